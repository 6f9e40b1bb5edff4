// The one-pass encoder of the documents' log records against the generated protobuf encoder:
// seeded groups of writes (unicode and empty keys, empty values, deletes, value lengths across
// every varint width of a length prefix) must frame byte for byte what StorageWalRecord.encode
// writes, and read back through the segment reader. A failure prints its seed.
import { StorageWalRecord } from '../../proto/gen/concord/v1/storage';
import { encodeWalRecord } from '../../services/storage/encodeWalRecord';
import { WriteOp } from '../../services/storage/StorageEngine';
import { readSegment, walHeaderBytes } from '../../services/storage/walFiles';

const lengths = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000];
const keys = ['', 'u:doc\u00000000000001', 'd:caf\u00e9', 'd:\u{1f600}/x', 'n:incarnation'];

test.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i: one-pass record equals the generated encoding', (seed) => {
  let x = seed;
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * n);
  };
  const groups: WriteOp[][] = Array.from({ length: 1 + rand(4) }, () => Array.from({ length: rand(4) }, (): WriteOp => {
    const key = `${keys[rand(keys.length)] as string}${rand(3) === 0 ? '' : String(rand(1000))}`;
    return rand(4) === 0 ? { type: 'del', key } : { type: 'put', key, value: new Uint8Array(lengths[rand(lengths.length)] as number).fill(seed) };
  }));
  const ops = groups.flat();
  if (ops.length === 0) {
    expect(() => encodeWalRecord(groups)).toThrow(/may not be empty/);
    return;
  }
  const want = StorageWalRecord.encode({ ops: ops.map((o) => (o.type === 'put' ? { key: o.key, value: o.value, delete: false } : { key: o.key, value: new Uint8Array(), delete: true })) }).finish();
  const frame = encodeWalRecord(groups);
  expect({ seed, payload: Buffer.from(frame.subarray(walHeaderBytes)).equals(Buffer.from(want)) }).toEqual({ seed, payload: true });
  const read = readSegment(Buffer.concat([frame, Buffer.alloc(16)]), 'memory', 'test log', true, (p) => p);
  expect(read.records.map((p) => Buffer.from(p).equals(Buffer.from(want)))).toEqual([true]);
  expect(StorageWalRecord.decode(read.records[0] as Uint8Array).ops.map((o) => [o.key, o.delete, o.value.byteLength]))
    .toEqual(ops.map((o) => [o.key, o.type === 'del', o.type === 'put' ? o.value.byteLength : 0]));
});
