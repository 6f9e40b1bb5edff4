// Proves the CLI's wiring end to end against fake nodes (not the real node): commands build the
// right requests, print versions as hex, --json output, and exit codes 0 / 1 (gRPC failure,
// reported as `error: <STATUS>: <details>`) / 2 (usage).
import { status } from '@grpc/grpc-js';
import { concordInProcess as concord } from './concordInProcess';
import { FakeNode, versionOf } from './FakeNode';

let nodes: FakeNode[] = [];

beforeEach(async () => {
  nodes = await Promise.all([FakeNode.start('n1'), FakeNode.start('n2')]);
});

afterEach(() => {
  for (const node of nodes) node.stop();
  nodes = [];
});

const endpoints = (): string => nodes.map((n) => n.address).join(',');

test('set sends a map set with the JSON value and the ack level, and prints the version as hex', async () => {
  const result = await concord('set', 'demo/hello', 'greeting.text', '"hi"', '--ack', 'quorum', '--endpoints', endpoints());
  expect(result).toMatchObject({ code: 0, err: [] });
  expect(result.out).toEqual([`ok  node=n1  acked_by=1  version=${versionOf({ 1: 1 }).toString('hex')}`]);
  expect(nodes[0]!.requests.apply[0]).toMatchObject({
    documentId: 'demo/hello',
    ack: 2,
    operations: [{ op: { $case: 'mapSet', value: { path: ['greeting', 'text'], valueJson: '"hi"' } } }],
  });
});

test('add takes a negative delta; list-insert takes several JSON values', async () => {
  expect((await concord('add', 'd', 'stats.visits', '-2', '--endpoints', endpoints())).code).toBe(0);
  expect((await concord('list-insert', 'd', 'todo', '0', '"a"', '{"b":1}', '--endpoints', endpoints())).code).toBe(0);
  // Each CLI run is a new client, so each starts its round robin at n1.
  const [add, insert] = nodes[0]!.requests.apply;
  expect(add?.operations[0]?.op).toEqual({ $case: 'counterAdd', value: { path: ['stats', 'visits'], delta: -2 } });
  expect(insert?.operations[0]?.op).toEqual({
    $case: 'listInsert',
    value: { path: ['todo'], index: 0, valuesJson: ['"a"', '{"b":1}'] },
  });
});

test('get --json prints the document, node and hex version; --min-version is sent', async () => {
  for (const n of nodes) {
    n.handlers.get = (_call, cb) => cb(null, { json: '{"greeting":{"text":"hi"}}', version: Buffer.from([1, 2]), update: Buffer.alloc(0), nodeId: n.nodeId });
  }
  const result = await concord('get', 'demo/hello', '--json', '--min-version', 'abcd', '--endpoints', endpoints());
  expect(result.code).toBe(0);
  expect(JSON.parse(result.out[0]!)).toEqual({ documentId: 'demo/hello', nodeId: 'n1', version: '0102', document: { greeting: { text: 'hi' } } });
  expect(Buffer.from(nodes[0]!.requests.get[0]!.minVersion).toString('hex')).toBe('abcd');
});

test('a gRPC failure prints the status name and details and exits 1', async () => {
  for (const n of nodes) n.handlers.apply = (_call, cb) => cb({ code: status.FAILED_PRECONDITION, details: 'greeting is a text, not a map' });
  const result = await concord('del', 'demo/hello', 'greeting.text', '--endpoints', endpoints());
  expect(result).toMatchObject({ code: 1, out: [], err: ['error: FAILED_PRECONDITION: greeting is a text, not a map'] });
});

test('usage errors exit 2', async () => {
  expect((await concord('set', 'demo/hello', 'greeting', '"hi"')).code).toBe(2);
  expect((await concord('get', 'demo/hello', '--ack', 'quorum')).code).toBe(2);
  expect((await concord('set', 'demo/hello', 'a.b', '"x"', '--ack', 'most')).code).toBe(2);
  expect((await concord('frobnicate')).code).toBe(2);
  expect((await concord('--help')).code).toBe(0);
});

test('status prints one row per node and exits 1 when a node is unreachable', async () => {
  nodes[1]!.stop();
  const result = await concord('status', '--endpoints', endpoints(), '--timeout', '1000');
  expect(result.code).toBe(1);
  expect(result.out[0]).toMatch(/^NODE\s+ROLE\s+ADDRESS\s+REACHABLE/);
  expect(result.out[1]).toMatch(new RegExp(`^n1\\s+master\\s+${nodes[0]!.address}\\s+yes`));
  expect(result.out[2]).toMatch(new RegExp(`^\\?\\s+\\?\\s+${nodes[1]!.address}\\s+no`));
  const json = await concord('status', '--json', '--endpoints', endpoints(), '--timeout', '1000');
  expect(JSON.parse(json.out.join('\n'))).toMatchObject([{ nodeId: 'n1', reachable: true, incarnation: 1 }, { reachable: false }]);
});
