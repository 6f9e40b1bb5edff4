import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { encodeReusing, serializeReusing } from '../../services/core/encodeReusing';
import { RaftBatch, RaftServiceService, RaftWalRecord } from '../../proto/gen/concord/v1/raft';
import { KvCommandEntry } from '../../proto/gen/concord/v1/kv_command';

const record = (n: number, bytes: number): RaftWalRecord => ({
  entries: Array.from({ length: n }, (_, i) => ({ index: BigInt(i + 1), term: 3n, kind: 0, data: new Uint8Array(bytes).fill(i % 251) })),
  hardState: undefined,
  snapshotIndex: 0n,
  snapshotTerm: 0n,
});

describe('encodeReusing', () => {
  it('gives the bytes a fresh writer gives, message after message, each an array of its own', () => {
    const sizes: [number, number][] = [[1, 256], [40, 300], [0, 0], [3, 5], [200, 1000], [1, 1]];
    const outs: Uint8Array[] = [];
    for (const [n, b] of sizes) {
      const m = record(n, b);
      const out = encodeReusing(RaftWalRecord.encode, m);
      expect(Buffer.from(out).equals(Buffer.from(RaftWalRecord.encode(m).finish()))).toBe(true);
      expect(RaftWalRecord.decode(out).entries).toHaveLength(n);
      outs.push(out);
    }
    // Earlier results are not overwritten by later encodes (each is a copy).
    expect(RaftWalRecord.decode(outs[1] as Uint8Array).entries).toHaveLength(40);
    expect(new Set(outs.map((o) => o.buffer)).size).toBe(outs.length);
  });

  it('an encode that throws midway leaves nothing behind for the next one', () => {
    expect(() => encodeReusing((_m: unknown, w: BinaryWriter) => {
      w.uint32(10).fork().uint32(8).uint32(99);
      throw new Error('bad field');
    }, {})).toThrow('bad field');
    const m = { traceparent: '', command: undefined };
    expect(Buffer.from(encodeReusing(KvCommandEntry.encode, m)).equals(Buffer.from(KvCommandEntry.encode(m).finish()))).toBe(true);
  });

  it('a message over a megabyte is encoded whole, and the ones after it still right', () => {
    const big = record(2, 700_000);
    expect(Buffer.from(encodeReusing(RaftWalRecord.encode, big)).equals(Buffer.from(RaftWalRecord.encode(big).finish()))).toBe(true);
    const small = record(2, 10);
    expect(Buffer.from(encodeReusing(RaftWalRecord.encode, small)).equals(Buffer.from(RaftWalRecord.encode(small).finish()))).toBe(true);
  });

  it('serializeReusing gives grpc-js the bytes the generated serializer gives, in a Buffer of their own', () => {
    const serialize = serializeReusing(RaftBatch.encode);
    const batch = (n: number): RaftBatch => ({ from: 'n1', clusterId: 'c', messages: [], fragment: new Uint8Array(n).fill(7), fragmentLast: n % 2 === 0 });
    const first = serialize(batch(300));
    expect(Buffer.isBuffer(first)).toBe(true);
    expect(first.equals(RaftServiceService.stream.requestSerialize(batch(300)))).toBe(true);
    const second = serialize(batch(5));
    expect(second.equals(RaftServiceService.stream.requestSerialize(batch(5)))).toBe(true);
    // The first is untouched by the second encode.
    expect(first.equals(RaftServiceService.stream.requestSerialize(batch(300)))).toBe(true);
    expect(RaftBatch.decode(first).fragment.byteLength).toBe(300);
  });
});
