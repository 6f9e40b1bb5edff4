// Proves ConcordClient's KV calls against fake voters on loopback: reads and keep-alives fail
// over to another node on UNAVAILABLE, writes (put, txn, counter add, lease grant) are never
// repeated once sent but move on when nothing was sent, and kvWatch against nodes of an
// earlier version (no WatchStream: one Watch call per watch) resumes on another node from the
// last revision + 1, dropping a replayed revision, so no event is lost or repeated. The shared
// WatchStream path is proven in kvWatchMux.test.ts.
import { status, type ServiceError } from '@grpc/grpc-js';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { kvOps } from '../../clients/client/kvOps';
import type { KvWatchRequest, KvWatchResponse } from '../../proto/gen/concord/v1/kv';
import { fastClient, FakeKvNode, header } from './FakeKvNode';

let nodes: FakeKvNode[] = [];
let client: ConcordClient | undefined;

async function cluster(count: number): Promise<ConcordClient> {
  nodes = await Promise.all(Array.from({ length: count }, (_, i) => FakeKvNode.start(`n${i + 1}`)));
  client = fastClient(nodes);
  return client;
}

const unavailable = { code: status.UNAVAILABLE, details: 'no quorum' };
const refuseAll = (node: FakeKvNode): void => {
  for (const method of ['range', 'put', 'txn', 'counterAdd', 'leaseGrant', 'leaseKeepAlive']) node.unary.set(method, (_c, cb) => cb(unavailable));
};

afterEach(() => {
  client?.close();
  client = undefined;
  for (const node of nodes) node.stop();
  nodes = [];
});

test('a read and a keep-alive answered UNAVAILABLE are retried on the next node', async () => {
  const c = await cluster(2);
  refuseAll(nodes[0]!);
  const range = await c.kvRange('app/', { prefix: true, serializable: true });
  expect(range.header?.nodeId).toBe('n2');
  expect(nodes[1]!.requests('range')).toEqual([expect.objectContaining({ key: 'app/', rangeEnd: 'app0', serializable: true })]);
  refuseAll(nodes[1]!);
  nodes[0]!.unary.delete('leaseKeepAlive');
  expect((await c.leaseKeepAlive(7n)).header?.nodeId).toBe('n1');
});

test.each([
  ['put', (c: ConcordClient) => c.kvPut('k', 'v')],
  ['txn', (c: ConcordClient) => c.kvTxn({ compare: [kvOps.compare('version', 'k', '=', 0)], success: [kvOps.put('k', 'v')] })],
  ['counterAdd', (c: ConcordClient) => c.counterAdd('wallet/alice', -30, { floor: 0 })],
  ['leaseGrant', (c: ConcordClient) => c.leaseGrant(10_000)],
])('a %s answered UNAVAILABLE after it was sent is not repeated', async (method, call) => {
  const c = await cluster(2);
  refuseAll(nodes[0]!);
  const error = (await call(c).catch((e: unknown) => e)) as ServiceError;
  expect(error.code).toBe(status.UNAVAILABLE);
  expect(nodes[0]!.requests(method)).toHaveLength(1);
  expect(nodes[1]!.calls).toEqual([]);
});

test('a write moves on when the first node cannot be reached (nothing was sent)', async () => {
  const c = await cluster(2);
  nodes[0]!.stop();
  const response = await c.counterAdd('wallet/alice', -30n, { floor: 0n });
  expect(response.header?.nodeId).toBe('n2');
  expect(nodes[1]!.requests('counterAdd')).toEqual([{ key: 'wallet/alice', delta: -30n, floor: 0n, ceiling: 0n, hasFloor: true, hasCeiling: false }]);
});

test('kvWatch on nodes without WatchStream resumes on another node from the last revision + 1 and drops a replayed revision', async () => {
  const c = await cluster(2);
  const put = (nodeId: string, revision: bigint): KvWatchResponse => ({
    header: header(nodeId, revision),
    compactRevision: 0n,
    events: [{ type: 0, kv: { key: 'app/x', value: Buffer.from(`v${revision}`), createRevision: 5n, modRevision: revision, version: 1n, lease: 0n }, prevKv: undefined }],
  });
  // The watch starts "now": the client reads revision 4 first, so it subscribes from 5.
  for (const node of nodes) node.unary.set('range', (_c, cb) => cb(null, { header: header(node.nodeId, 4n) }));
  // Whichever node the round robin picks first streams 5 and 6, then dies; the other one
  // replays one revision too many (6) before the one it was asked for.
  let subscriptions = 0;
  for (const node of nodes) {
    node.watch = (call) => {
      const start = call.request.startRevision;
      if (subscriptions++ === 0) {
        call.write(put(node.nodeId, start));
        call.write(put(node.nodeId, start + 1n));
        setTimeout(() => node.stop(), 100);
      } else {
        call.write(put(node.nodeId, start - 1n));
        call.write(put(node.nodeId, start));
      }
    };
  }
  const seen: bigint[] = [];
  const watchedOn = new Set<string>();
  for await (const response of c.kvWatch('app/', { prefix: true })) {
    seen.push(response.header?.revision ?? 0n);
    watchedOn.add(response.header?.nodeId ?? '');
    if (seen.length === 3) break;
  }
  expect(seen).toEqual([5n, 6n, 7n]);
  expect(watchedOn.size).toBe(2);
  const requests = nodes.flatMap((n) => n.requests<KvWatchRequest>('watch'));
  expect(requests.map((r) => r.startRevision).sort()).toEqual([5n, 7n]);
  expect(requests.every((r) => r.key === 'app/' && r.rangeEnd === 'app0')).toBe(true);
}, 15_000);

test('kvWatch on nodes without WatchStream fails with OUT_OF_RANGE when its start revision was compacted', async () => {
  const c = await cluster(1);
  nodes[0]!.watch = (call) => {
    call.write({ header: header('n1', 9n), events: [], compactRevision: 8n });
    call.end();
  };
  const error = (await c.kvWatch('k', { startRevision: 3n }).next().catch((e: unknown) => e)) as ServiceError;
  expect(error.code).toBe(status.OUT_OF_RANGE);
  expect(error.details).toMatch(/revision 3 has been compacted \(up to 8\)/);
});
