// The byte counts of anti-entropy traffic come from the messages' fields, not from encoding
// them a second time; they must equal what protobuf actually encodes.
import { PushDiffRequest, SyncDoc, SyncRequest, SyncResponse } from '../../proto/gen/concord/v1/peer';
import { pushDiffRequestSize, syncRequestSize, syncResponseSize } from '../../services/node/peerMessageSize';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function docs(rand: () => number, count: number): SyncDoc[] {
  // Sizes around the varint boundaries (127/128, 16383/16384, ...) and empty fields.
  const sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000, 2_100_000];
  const pick = (): number => sizes[Math.floor(rand() * sizes.length)] as number;
  return Array.from({ length: count }, (_, i) => ({
    documentId: rand() < 0.1 ? '' : `doc-${i}-${'é'.repeat(Math.floor(rand() * 70))}`,
    stateVector: new Uint8Array(pick() % 1000),
    update: new Uint8Array(rand() < 0.3 ? 0 : pick()),
    deleteSetDigest: new Uint8Array(rand() < 0.5 ? 0 : 32),
  }));
}

test('sizes computed from the fields match the encoded messages', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const count = Math.floor(rand() * 6);
    const req: SyncRequest = { nodeId: rand() < 0.2 ? '' : 'n1', documents: docs(rand, count), pullOnly: rand() < 0.5 };
    const res: SyncResponse = { documents: docs(rand, count), pullsBack: rand() < 0.5 };
    const push: PushDiffRequest = { nodeId: 'node-ü', documents: docs(rand, count) };
    const where = `seed ${seed}`;
    expect([where, syncRequestSize(req)]).toEqual([where, SyncRequest.encode(req).finish().byteLength]);
    expect([where, syncResponseSize(res)]).toEqual([where, SyncResponse.encode(res).finish().byteLength]);
    expect([where, pushDiffRequestSize(push)]).toEqual([where, PushDiffRequest.encode(push).finish().byteLength]);
  }
});
