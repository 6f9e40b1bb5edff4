// The one-pass Sync answer encoder writes exactly what the generated encoder writes, and the
// generated decoder reads it back. Seeded: a failure names its seed; `SYNC_ENCODE_SEED=n`
// replays one.
import { SyncDoc, SyncResponse } from '../../proto/gen/concord/v1/peer';
import { encodeSyncResponse } from '../../services/node/encodeSyncResponse';
import { makePrng, Prng } from '../sim/prng';

const ids = ['', 'd', 'notes/2026/a', 'ünïcødé/文書/🙂', 'x'.repeat(200)];
// Lengths around every varint width of a length prefix (1, 2 and 3 bytes).
const lengths = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000];

function bytes(prng: Prng): Uint8Array {
  const b = new Uint8Array(prng.pick(lengths));
  for (let i = 0; i < b.length; i += 97) b[i] = prng.int(256);
  return b;
}

function response(prng: Prng): SyncResponse {
  const documents: SyncDoc[] = Array.from({ length: prng.int(6) }, () => ({
    documentId: prng.pick(ids),
    stateVector: bytes(prng),
    update: bytes(prng),
    deleteSetDigest: prng.chance(0.5) ? new Uint8Array(0) : new Uint8Array(32).fill(prng.int(256)),
  }));
  return { documents, pullsBack: prng.chance(0.5) };
}

function seeds(): number[] {
  const one = process.env.SYNC_ENCODE_SEED;
  return one !== undefined ? [Number(one)] : Array.from({ length: 200 }, (_, i) => i + 1);
}

test('encodes every Sync answer byte for byte as the generated encoder does', () => {
  for (const seed of seeds()) {
    const r = response(makePrng(seed));
    const fast = encodeSyncResponse(r);
    const generated = Buffer.from(SyncResponse.encode(r).finish());
    if (!fast.equals(generated)) throw new Error(`seed ${seed}: ${fast.length} bytes differ from the generated ${generated.length}`);
    // Read back (compared re-encoded: Jest's deep equality crawls large byte arrays).
    const back = SyncResponse.decode(fast);
    expect(back.documents.map((d) => d.documentId)).toEqual(r.documents.map((d) => d.documentId));
    expect(Buffer.from(SyncResponse.encode(back).finish()).equals(generated)).toBe(true);
  }
});

test('an empty answer is zero bytes, and pulls_back alone is its field', () => {
  expect(encodeSyncResponse({ documents: [], pullsBack: false }).length).toBe(0);
  expect([...encodeSyncResponse({ documents: [], pullsBack: true })]).toEqual([0x10, 1]);
});
