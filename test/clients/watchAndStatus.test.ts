// Proves that a watch survives a node failure by resubscribing elsewhere from the last version
// it received, that aborting ends it quietly, and that statusAll reports every node, reachable
// or not, without throwing.
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { hex } from '../../clients/cli/printable';
import type { WatchEvent, WatchRequest } from '../../proto/gen/concord/v1/documents';
import { FakeNode, unavailable, versionOf } from './FakeNode';

let nodes: FakeNode[] = [];
let client: ConcordClient | undefined;

async function cluster(count: number): Promise<ConcordClient> {
  nodes = await Promise.all(Array.from({ length: count }, (_, i) => FakeNode.start(`n${i + 1}`)));
  client = new ConcordClient({ endpoints: nodes.map((n) => n.address), cooldownMs: 20 });
  return client;
}

function event(clock: number, origin: string): WatchEvent {
  return { update: Buffer.from([clock]), version: versionOf({ 1: clock }), json: '', origin };
}

afterEach(() => {
  client?.close();
  client = undefined;
  for (const node of nodes) node.stop();
  nodes = [];
});

test('a broken watch resubscribes on another node from the last version it received', async () => {
  const c = await cluster(2);
  nodes[0]!.handlers.watch = (call: ServerWritableStream<WatchRequest, WatchEvent>) => {
    call.write(event(1, 'local'));
    call.write(event(2, 'local'));
    call.emit('error', unavailable);
  };
  nodes[1]!.handlers.watch = (call) => {
    call.write(event(3, 'remote:n1'));
    call.end();
  };
  const seen: string[] = [];
  for await (const e of c.watch('doc', { includeJson: true })) seen.push(`${e.origin}@${hex(e.version)}`);
  expect(seen).toEqual([1, 2, 3].map((clock, i) => `${i < 2 ? 'local' : 'remote:n1'}@${hex(versionOf({ 1: clock }))}`));
  expect(nodes[0]!.requests.watch[0]).toMatchObject({ documentId: 'doc', includeJson: true, fromVersion: Buffer.alloc(0) });
  expect(nodes[1]!.requests.watch[0]!.fromVersion).toEqual(versionOf({ 1: 2 }));
});

test('aborting a watch ends the iteration and cancels the stream on the node', async () => {
  const c = await cluster(1);
  let cancelled!: () => void;
  const streamCancelled = new Promise<void>((resolve) => (cancelled = resolve));
  nodes[0]!.handlers.watch = (call) => {
    call.on('cancelled', () => cancelled());
    call.write(event(1, 'local'));
  };
  const controller = new AbortController();
  const seen: WatchEvent[] = [];
  for await (const e of c.watch('doc', { signal: controller.signal })) {
    seen.push(e);
    controller.abort();
  }
  expect(seen).toHaveLength(1);
  await streamCancelled;
});

test('a watch that fails with anything but UNAVAILABLE throws that error', async () => {
  const c = await cluster(2);
  nodes[0]!.handlers.watch = (call) => call.emit('error', { code: status.PERMISSION_DENIED, details: 'no' });
  await expect(c.watch('doc').next()).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  expect(nodes[1]!.requests.watch).toHaveLength(0);
});

test('statusAll reports every endpoint in order and marks the unreachable ones', async () => {
  const c = await cluster(3);
  nodes[1]!.stop();
  const results = await c.statusAll({ deadlineMs: 500 });
  expect(results.map((r) => [r.address, r.ok])).toEqual(nodes.map((n, i) => [n.address, i !== 1]));
  const [first, second] = results;
  expect(first?.ok && first.status.nodeId).toBe('n1');
  expect(second?.ok === false && (second.error as { code: number }).code).toBe(status.UNAVAILABLE);
  expect((await c.status(nodes[2]!.address)).nodeId).toBe('n3');
});
