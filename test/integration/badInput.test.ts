// Bad input gets a clear gRPC status and leaves the stored document unchanged: malformed Yjs
// updates, unknown operations, paths of the wrong type, oversized messages, bad document ids,
// bad version tokens, unknown documents and expired deadlines.
import { credentials, ServiceError, status } from '@grpc/grpc-js';
import * as Y from 'yjs';
import { AckLevel, Operation } from '../../proto/gen/concord/v1/documents';
import { RaftBatch, RaftMessage, RaftMessageType, RaftServiceClient } from '../../proto/gen/concord/v1/raft';
import { codeOf, NodeStubs } from './nodeStubs';
import { startTestCluster, TestCluster } from './startTestCluster';

let tc: TestCluster;
let s: NodeStubs;
const doc = 'bad/input';

beforeAll(async () => {
  tc = await startTestCluster(1);
  s = tc.stubs[0]!;
  await s.apply({ documentId: doc, operations: [{ op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '1' } } }] });
}, 60_000);

afterAll(async () => {
  await tc?.stop();
});


async function unchanged(): Promise<void> {
  expect((await s.get({ documentId: doc })).json).toBe('{"m":{"k":1}}');
}

test.each([
  ['garbage bytes', Buffer.from('garbage garbage')],
  ['truncated update', new Uint8Array([1, 2, 3])],
  ['empty update', new Uint8Array()],
])('malformed Yjs update (%s) is INVALID_ARGUMENT', async (_name, update) => {
  const r = await codeOf(s.pushUpdate({ documentId: doc, update }));
  expect(r.code).toBe(status.INVALID_ARGUMENT);
  expect(r.details).toMatch(/update/);
  await unchanged();
});

test('an unknown or empty operation is INVALID_ARGUMENT', async () => {
  const r = await codeOf(s.apply({ documentId: doc, operations: [{ op: undefined }] }));
  expect(r.code).toBe(status.INVALID_ARGUMENT);
  expect((await codeOf(s.apply({ documentId: doc, operations: [] }))).code).toBe(status.INVALID_ARGUMENT);
  await unchanged();
});

test('a path of the wrong type is FAILED_PRECONDITION, and a batch is all or nothing', async () => {
  const textOnMap: Operation = { op: { $case: 'textInsert', value: { path: ['m'], index: 0, text: 'x' } } };
  const r = await codeOf(s.apply({ documentId: doc, operations: [textOnMap] }));
  expect(r.code).toBe(status.FAILED_PRECONDITION);
  expect(r.details).toMatch(/m is a map, not a text/);
  const ok: Operation = { op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '2' } } };
  const under: Operation = { op: { $case: 'mapSet', value: { path: ['m', 'k', 'deeper'], valueJson: '3' } } };
  expect((await codeOf(s.apply({ documentId: doc, operations: [ok, under] }))).code).toBe(status.FAILED_PRECONDITION);
  const badJson: Operation = { op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '{nope' } } };
  expect((await codeOf(s.apply({ documentId: doc, operations: [badJson] }))).code).toBe(status.INVALID_ARGUMENT);
  await unchanged();
});

test('an oversized message is RESOURCE_EXHAUSTED', async () => {
  const big: Operation = { op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: JSON.stringify('x'.repeat(9 << 20)) } } };
  const r = await codeOf(s.apply({ documentId: doc, operations: [big] }));
  expect(r.code).toBe(status.RESOURCE_EXHAUSTED);
  await unchanged();
});

test('an oversized Yjs update under the message limit is RESOURCE_EXHAUSTED too', async () => {
  const d = new Y.Doc();
  d.getMap('m').set('big', 'y'.repeat(5 << 20));
  const r = await codeOf(s.pushUpdate({ documentId: doc, update: Y.encodeStateAsUpdate(d) }));
  expect(r.code).toBe(status.RESOURCE_EXHAUSTED);
  await unchanged();
});

test('empty, overlong and control-character document ids are INVALID_ARGUMENT', async () => {
  const op: Operation = { op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '5' } } };
  for (const id of ['', 'x'.repeat(257), 'a\u0000b']) {
    const r = await codeOf(s.apply({ documentId: id, operations: [op] }));
    expect(r.code).toBe(status.INVALID_ARGUMENT);
    expect(r.details).toMatch(/document id/);
  }
  expect((await codeOf(s.get({ documentId: '' }))).code).toBe(status.INVALID_ARGUMENT);
});

test('an unknown document is NOT_FOUND; a bad version token is INVALID_ARGUMENT', async () => {
  expect((await codeOf(s.get({ documentId: 'bad/never-written' }))).code).toBe(status.NOT_FOUND);
  expect((await codeOf(s.get({ documentId: doc, minVersion: new Uint8Array([0xff, 0xff, 0xff]) }))).code).toBe(status.INVALID_ARGUMENT);
});

test('a read waiting for a version the cluster never had ends with DEADLINE_EXCEEDED in time', async () => {
  const other = new Y.Doc();
  other.getMap('m').set('k', 9);
  const future = Y.encodeSnapshot(Y.snapshot(other));
  const started = Date.now();
  const r = await codeOf(s.get({ documentId: doc, minVersion: future }, 700));
  expect(r.code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - started).toBeLessThan(2000);
});

test('with no peers configured, ALL means this one master', async () => {
  // ALL on a partitioned cluster fails with UNAVAILABLE; that is tested with real cuts.
  const op: Operation = { op: { $case: 'mapSet', value: { path: ['m2', 'k'], valueJson: '1' } } };
  const res = await s.apply({ documentId: 'bad/all', operations: [op], ack: 3 });
  expect(res.ackedBy).toBe(1);
});

test('a malformed consensus batch ends the voter stream with INVALID_ARGUMENT', async () => {
  const client = new RaftServiceClient(tc.cluster.nodes[0]!.address, credentials.createInsecure());
  try {
    const ended = new Promise<ServiceError | null>((resolve) => {
      const call = client.stream((err) => resolve(err));
      call.write(RaftBatch.fromPartial({ from: 'n9', clusterId: 'any', messages: [{ ...RaftMessage.fromPartial({ from: 'n9', to: 'n1' }), type: 99 as RaftMessageType }] }));
    });
    const err = await ended;
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/malformed raft message type/);
  } finally {
    client.close();
  }
});

test('consensus batch fragments that do not reassemble into a batch end the stream with INVALID_ARGUMENT', async () => {
  const client = new RaftServiceClient(tc.cluster.nodes[0]!.address, credentials.createInsecure());
  try {
    const ended = new Promise<ServiceError | null>((resolve) => {
      const call = client.stream((err) => resolve(err));
      call.write(RaftBatch.fromPartial({ fragment: Buffer.from([0x1a, 0xff, 0xff]) }));
      call.write(RaftBatch.fromPartial({ fragment: Buffer.from([0xff, 0x0f]), fragmentLast: true }));
    });
    const err = await ended;
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/fragmented batch does not decode/);
  } finally {
    client.close();
  }
});

test('an unknown ack level is INVALID_ARGUMENT', async () => {
  const op: Operation = { op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '7' } } };
  expect((await codeOf(s.apply({ documentId: doc, operations: [op], ack: 42 as AckLevel }))).code).toBe(status.INVALID_ARGUMENT);
  await unchanged();
});
