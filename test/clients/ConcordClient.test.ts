// Proves the client's balancing and retry rules against real grpc-js servers on loopback:
// round robin, skipping and re-admitting a failed node, Apply never repeated once sent but
// failed over when nothing was sent or the node said it was not applied, idempotent calls
// failed over, and deadlines enforced.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import * as net from 'node:net';
import * as Y from 'yjs';
import { ConcordClient } from '../../clients/client/ConcordClient';
import type { ConcordClientOptions } from '../../clients/client/ConcordClientOptions';
import { ops } from '../../clients/client/ops';
import { FakeNode, unavailable, versionOf } from './FakeNode';
import { waitFor } from './waitFor';

let nodes: FakeNode[] = [];
let client: ConcordClient | undefined;

async function cluster(count: number, options: Partial<ConcordClientOptions> = {}): Promise<ConcordClient> {
  nodes = await Promise.all(Array.from({ length: count }, (_, i) => FakeNode.start(`n${i + 1}`)));
  client = new ConcordClient({
    endpoints: nodes.map((n) => n.address),
    cooldownMs: 20,
    probeDeadlineMs: 200,
    channelOptions: { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 100 },
    ...options,
  });
  return client;
}

function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: ServiceError) => error,
  );
}

afterEach(() => {
  client?.close();
  client = undefined;
  for (const node of nodes) node.stop();
  nodes = [];
});

test('round robin spreads calls evenly over healthy nodes', async () => {
  const c = await cluster(3);
  const answeredBy: string[] = [];
  for (let i = 0; i < 6; i++) answeredBy.push((await c.get('doc')).nodeId);
  expect(answeredBy).toEqual(['n1', 'n2', 'n3', 'n1', 'n2', 'n3']);
});

test('a stopped node is skipped, then re-admitted once its health check answers again', async () => {
  const c = await cluster(3);
  const n2 = nodes[1]!;
  await c.get('warm-up');
  n2.stop();
  for (let i = 0; i < 6; i++) expect(['n1', 'n3']).toContain((await c.get('doc')).nodeId);
  expect(c.nodes()[1]).toEqual({ address: n2.address, healthy: false });

  await n2.listen();
  await waitFor(() => c.nodes()[1]!.healthy, 'n2 to be re-admitted');
  const answeredBy = new Set<string>();
  for (let i = 0; i < 3; i++) answeredBy.add((await c.get('doc')).nodeId);
  expect(answeredBy).toEqual(new Set(['n1', 'n2', 'n3']));
});

test('a node whose health check says NOT_SERVING is skipped until it serves again', async () => {
  const c = await cluster(2, { healthCheckIntervalMs: 20 });
  nodes[0]!.setHealth('NOT_SERVING');
  await waitFor(() => !c.nodes()[0]!.healthy, 'n1 to be marked down');
  for (let i = 0; i < 3; i++) expect((await c.get('doc')).nodeId).toBe('n2');
  nodes[0]!.setHealth('SERVING');
  await waitFor(() => c.nodes()[0]!.healthy, 'n1 to be re-admitted');
});

test('Apply is not repeated after a node received it and failed with UNAVAILABLE', async () => {
  const c = await cluster(3);
  nodes[0]!.handlers.apply = (_call, callback) => callback(unavailable);
  const error = await rejection(c.apply('doc', [ops.counterAdd('stats.visits', 1)]));
  expect(error.code).toBe(status.UNAVAILABLE);
  expect(nodes.map((n) => n.requests.apply.length)).toEqual([1, 0, 0]);
});

/** A refusal made before the operation took effect (see notApplied in DomainError.ts). */
function notApplied(code: status, details: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set('concord-not-applied', 'true');
  return { code, details, metadata };
}

test('Apply moves on to another node when the first says it was not applied (no quorum there)', async () => {
  const c = await cluster(3);
  nodes[0]!.handlers.apply = (_call, callback) => callback(notApplied(status.UNAVAILABLE, 'no quorum: this node reaches 1 of 3 voters'));
  const response = await c.apply('doc', [ops.counterAdd('stats.visits', 1)]);
  expect(response.nodeId).toBe('n2');
  expect(nodes.map((n) => n.requests.apply.length)).toEqual([1, 1, 0]);
  expect(c.nodes()[0]!.healthy).toBe(false);
});

test('a write a replica refuses (FAILED_PRECONDITION, not applied) goes to the next node', async () => {
  const c = await cluster(2);
  nodes[0]!.handlers.apply = (_call, callback) => callback(notApplied(status.FAILED_PRECONDITION, 'node n1 is a replica and accepts no document writes'));
  expect((await c.apply('doc', [ops.set('m.k', 1)])).nodeId).toBe('n2');
  expect(nodes.map((n) => n.requests.apply.length)).toEqual([1, 1]);
  // Without the mark, FAILED_PRECONDITION is the answer (a failed bound, a wrong type).
  nodes[0]!.handlers.apply = (_call, callback) => callback({ code: status.FAILED_PRECONDITION, details: 'm.k is a map, not a text' });
  nodes[1]!.handlers.apply = nodes[0]!.handlers.apply;
  const error = await rejection(c.apply('doc', [ops.set('m.k', 1)]));
  expect([error.code, error.details]).toEqual([status.FAILED_PRECONDITION, 'm.k is a map, not a text']);
  expect(nodes.map((n) => n.requests.apply.length).reduce((a, b) => a + b)).toBe(3);
});

test('a node that refused writes for its role is tried last for writes, still first for reads in turn', async () => {
  const c = await cluster(3);
  nodes[0]!.handlers.apply = (_call, callback) => callback(notApplied(status.FAILED_PRECONDITION, 'node n1 is a replica and accepts no document writes'));
  for (let i = 0; i < 6; i++) expect((await c.apply('doc', [ops.set('m.k', i)])).nodeId).not.toBe('n1');
  // One refusal, then n1 is skipped for writes; it stays healthy and serves reads in turn.
  expect(nodes.map((n) => n.requests.apply.length)).toEqual([1, 3, 3]);
  expect(c.nodes()[0]!.healthy).toBe(true);
  const readers = new Set<string>();
  for (let i = 0; i < 3; i++) readers.add((await c.get('doc')).nodeId);
  expect(readers).toEqual(new Set(['n1', 'n2', 'n3']));
});

test('Apply moves on to another node when the first could not be connected to', async () => {
  const dead = await FakeNode.start('dead');
  dead.stop();
  const live = await FakeNode.start('live');
  nodes = [live];
  client = new ConcordClient({ endpoints: [dead.address, live.address] });
  const response = await client.apply('doc', [ops.set('greeting.text', 'hi')], { ack: 'quorum' });
  expect(response.nodeId).toBe('live');
  expect(live.requests.apply).toHaveLength(1);
  expect(live.requests.apply[0]!.operations[0]!.op).toEqual({
    $case: 'mapSet',
    value: { path: ['greeting', 'text'], valueJson: '"hi"' },
  });
});

test('Get that fails with UNAVAILABLE is retried on another node, which is then preferred', async () => {
  const c = await cluster(3);
  nodes[0]!.handlers.get = (_call, callback) => callback(unavailable);
  expect((await c.get('doc')).nodeId).toBe('n2');
  expect(nodes.map((n) => n.requests.get.length)).toEqual([1, 1, 0]);
  expect(c.nodes()[0]!.healthy).toBe(false);
});

test('errors other than UNAVAILABLE are answers, not retried', async () => {
  const c = await cluster(2);
  nodes[0]!.handlers.get = (_call, callback) => callback({ code: status.NOT_FOUND, details: 'no such document' });
  const error = await rejection(c.get('doc'));
  expect([error.code, error.details]).toEqual([status.NOT_FOUND, 'no such document']);
  expect(nodes[1]!.requests.get).toHaveLength(0);
});

test('deadlines are enforced: a call to a node that never answers fails with DEADLINE_EXCEEDED', async () => {
  const c = await cluster(2, { deadlineMs: 150 });
  nodes[0]!.handlers.get = () => undefined;
  nodes[1]!.handlers.get = () => undefined;
  const started = Date.now();
  expect((await rejection(c.get('doc'))).code).toBe(status.DEADLINE_EXCEEDED);
  expect((await rejection(c.get('doc', { deadlineMs: 50 }))).code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - started).toBeLessThan(1500);
  // The spent budget is not retried elsewhere: each call reached exactly one node.
  expect(nodes.map((n) => n.requests.get.length)).toEqual([1, 1]);
});

test('a session sends the union of the versions it has seen as minVersion on reads', async () => {
  const c = await cluster(3, { session: true });
  nodes[0]!.handlers.apply = (_call, callback) => callback(null, { version: versionOf({ 7: 5 }), nodeId: 'n1', ackedBy: 1 });
  nodes[1]!.handlers.apply = (_call, callback) => callback(null, { version: versionOf({ 9: 2 }), nodeId: 'n2', ackedBy: 1 });
  await c.apply('doc', [ops.set('a.b', 1)]);
  await c.apply('doc', [ops.set('a.c', 2)]);
  await c.get('doc');
  const sent = nodes[2]!.requests.get[0]!.minVersion;
  expect([...Y.decodeSnapshot(sent).sv.entries()].sort()).toEqual([[7, 5], [9, 2]]);
  // Another document has its own session version: nothing seen, nothing required.
  await c.get('other');
  expect(nodes[0]!.requests.get[0]!.minVersion).toHaveLength(0);
});

test('no node reachable: the reason grpc-js knows is named, and looking for it stays within the deadline', async () => {
  // A node that refuses connections: the channel fails at once, and grpc-js says why.
  const dead = await FakeNode.start('dead');
  dead.stop();
  client = new ConcordClient({ endpoints: [dead.address], deadlineMs: 2000 });
  const refused = await rejection(client.get('doc'));
  expect(refused.code).toBe(status.UNAVAILABLE);
  expect(refused.details).toMatch(new RegExp(`^no node reachable \\(tried ${dead.address}; ${dead.address}: .*(ECONNREFUSED|Failed to connect)`));
  client.close();
  // A peer that accepts and never speaks HTTP/2: the channel stays CONNECTING, there is no
  // reason to look up, and the call ends within its deadline.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    client = new ConcordClient({ endpoints: [address], deadlineMs: 500, connectTimeoutMs: 250 });
    const started = Date.now();
    const hung = await rejection(client.get('doc'));
    expect(Date.now() - started).toBeLessThan(500);
    expect([hung.code, hung.details]).toEqual([status.UNAVAILABLE, `no node reachable (tried ${address})`]);
  } finally {
    client.close();
    client = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
