// Consensus batches too large for one gRPC message travel as fragments and are reassembled.
import { asNodeId, Message } from '../../services/core/consensus';
import { DomainError } from '../../services/core/errors/DomainError';
import { fragmentRaftBatch, messageBytesBound, raftMessageBytesMax } from '../../services/node/authority/fragmentRaftBatch';
import { RaftBatchAssembler } from '../../services/node/authority/RaftBatchAssembler';
import { messageFromProto, messageToProto } from '../../services/node/authority/raftCodec';
import { requestBytesMax } from '../../services/rpc/grpcServer';
import { RaftBatch } from '../../proto/gen/concord/v1/raft';

const n1 = asNodeId('n1');
const n2 = asNodeId('n2');

/** A seeded byte pattern, so a misplaced fragment changes the reassembled data. */
function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const snap = (size: number, seed: number): Message => ({
  type: 'snap', from: n1, to: n2, term: 3,
  snapshot: { index: 500, term: 3, voters: [n1, n2], learners: [], data: pattern(size, seed) },
});
const app = (sizes: readonly number[], seed: number): Message => ({
  type: 'app', from: n1, to: n2, term: 3, prevLogIndex: 9, prevLogTerm: 3, commit: 9,
  entries: sizes.map((s, i) => ({ index: 10 + i, term: 3, kind: 'normal' as const, data: pattern(s, seed + i) })),
});
const batchOf = (messages: readonly Message[]): RaftBatch => ({ from: 'n1', clusterId: 'c', messages: messages.map(messageToProto), fragment: new Uint8Array(0), fragmentLast: false });
const bound = (messages: readonly Message[]): number => messages.reduce((a, m) => a + messageBytesBound(m), 0);

/** Every part through the gRPC encoding (as the stream carries them), then the assembler. */
function deliver(parts: readonly RaftBatch[], assembler = new RaftBatchAssembler()): RaftBatch[] {
  const out: RaftBatch[] = [];
  for (const p of parts) {
    const whole = assembler.push(RaftBatch.decode(RaftBatch.encode(p).finish()));
    if (whole !== undefined) out.push(whole);
  }
  return out;
}

test('a fragment with its envelope fits in a request a node accepts', () => {
  const part: RaftBatch = { from: '', clusterId: '', messages: [], fragment: new Uint8Array(raftMessageBytesMax), fragmentLast: true };
  expect(RaftBatch.encode(part).finish().byteLength).toBeLessThan(requestBytesMax);
});

test('the size bound is never below the encoded size', () => {
  for (const [seed, m] of [[1, snap(10_000, 1)], [2, app([1, 300, 70_000], 2)], [3, app([], 3)]] as const) {
    const encoded = RaftBatch.encode(batchOf([m])).finish().byteLength;
    expect({ seed, ok: messageBytesBound(m) >= encoded }).toEqual({ seed, ok: true });
  }
});

test('a small batch is sent whole and passes through the assembler unchanged', () => {
  const messages = [app([100, 200], 7), snap(1000, 8)];
  const parts = fragmentRaftBatch(batchOf(messages), bound(messages));
  expect(parts).toHaveLength(1);
  expect(deliver(parts).map((b) => b.messages.map(messageFromProto))).toEqual([messages]);
});

test.each([11, 12, 13])('a batch over the limit goes in fragments and comes back whole (seed %i)', (seed) => {
  const maxBytes = 4096;
  const messages = [app([3000, 2500], seed), snap(20_000 + seed * 37, seed), app([10], seed + 1)];
  const parts = fragmentRaftBatch(batchOf(messages), bound(messages), maxBytes);
  expect(parts.length).toBeGreaterThan(5);
  expect(parts.every((p) => p.fragment.byteLength <= maxBytes && p.messages.length === 0)).toBe(true);
  expect(parts.map((p) => p.fragmentLast)).toEqual(parts.map((_, i) => i === parts.length - 1));
  // A whole batch before and after: the stream keeps order, and the assembler hands each back.
  const before = [app([5], 1)];
  const after = [app([6], 2)];
  const got = deliver([batchOf(before), ...parts, batchOf(after)]);
  expect(got.map((b) => b.messages.map(messageFromProto))).toEqual([before, messages, after]);
  expect(got[1]!.from).toBe('n1');
});

test('a bound over the limit whose encoding fits is still sent whole', () => {
  const messages = [app([100], 5)];
  expect(fragmentRaftBatch(batchOf(messages), 10_000, 4096)).toHaveLength(1);
});

test('fragments past the reassembly limit are refused', () => {
  const messages = [snap(9000, 4)];
  const parts = fragmentRaftBatch(batchOf(messages), bound(messages), 1000);
  expect(() => deliver(parts, new RaftBatchAssembler(5000))).toThrow(DomainError);
  expect(() => deliver(parts, new RaftBatchAssembler(5000))).toThrow(/exceeds 5000 bytes/);
});

test('a whole batch between the fragments of another is refused', () => {
  const messages = [snap(9000, 4)];
  const parts = fragmentRaftBatch(batchOf(messages), bound(messages), 1000);
  expect(() => deliver([parts[0]!, batchOf([app([1], 1)])])).toThrow(/between the fragments/);
});

test('fragments that do not decode are refused', () => {
  const bad: RaftBatch[] = [
    { from: '', clusterId: '', messages: [], fragment: new Uint8Array([0x1a, 0xff, 0xff]), fragmentLast: false },
    { from: '', clusterId: '', messages: [], fragment: new Uint8Array([0xff, 0x0f]), fragmentLast: true },
  ];
  expect(() => deliver(bad)).toThrow(/does not decode/);
});
