// Proves the gateway against three real nodes, using the phone app's own gRPC-Web client (it
// runs in Node too): unary calls and Watch streams cross it with the node's answers and errors
// intact (trailers included), phones stick to a node and the panel can address one, admin calls
// are signed with the token it holds (never shown), only the public services are exposed, a
// request naming it by another site's name is refused (DNS rebinding), and a killed node is out
// of rotation within two seconds.
import { request } from 'node:http';
import * as Y from 'yjs';
import { ConcordWebApi } from '../../clients/mobile/src/ConcordWebApi';
import { GrpcWebError, grpcStatus } from '../../clients/mobile/src/GrpcWebError';
import type { GatewayClusterInfo } from '../../services/gateway/gatewayHeaders';
import { startGateway, type Gateway } from '../../services/gateway/startGateway';
import { startTestCluster, testAdminToken, type TestCluster } from '../integration/startTestCluster';

let tc: TestCluster;
let gw: Gateway;
let base: string;

beforeAll(async () => {
  tc = await startTestCluster(3);
  gw = await startGateway({ nodes: tc.cluster.nodes.map((n) => ({ id: n.id, address: n.address })), port: 0, adminToken: testAdminToken });
  base = gw.url.replace(/\/$/, '');
}, 60_000);
afterAll(async () => {
  await gw?.close();
  await tc?.stop();
});

const api = (phone?: string): ConcordWebApi => new ConcordWebApi({ baseUrl: base, phone });
const failure = (p: Promise<unknown>): Promise<GrpcWebError> => p.then(() => { throw new Error('expected a failure'); }, (e: GrpcWebError) => e);

test('unary calls and a watch cross the gateway; a phone sticks to one node', async () => {
  const served: string[] = [];
  const traces = new Set<string>();
  const ann = new ConcordWebApi({ baseUrl: base, phone: 'ann', onCall: (c) => void (served.push(c.node), traces.add(c.traceId)) });
  const controller = new AbortController();
  const stream = await ann.watch('gw/doc', new Uint8Array(), controller.signal);
  const doc = new Y.Doc();
  doc.getText('note').insert(0, 'hello');
  const write = await api().pushUpdate('gw/doc', Y.encodeStateAsUpdate(doc));
  expect(write.nodeId).toMatch(/^n[123]$/);
  const first = await stream.messages.next();
  const seen = new Y.Doc();
  Y.applyUpdate(seen, first.done === true ? new Uint8Array() : first.value.update);
  expect(seen.getText('note').toString()).toBe('hello');
  controller.abort();
  const got = await ann.get('gw/doc', new Uint8Array());
  expect(JSON.parse(got.json)).toEqual({ note: 'hello' });
  for (let i = 0; i < 5; i++) await ann.get('gw/doc', new Uint8Array());
  expect(new Set(served).size).toBe(1);
  expect(traces.size).toBe(served.length); // one trace per call, for the panel's Jaeger links
  for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
  expect(served[0]).toBe(stream.servedBy);
  const info = (await (await fetch(`${base}/gateway/nodes`)).json()) as GatewayClusterInfo;
  expect(info.phones.ann).toBe(stream.servedBy);
  for (const node of ['n1', 'n2', 'n3']) expect((await api().status(node)).nodeId).toBe(node);
});

/** A GET with the Host header given (fetch will not set one). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a request naming the gateway by another site\'s name is refused, as DNS rebinding would send it', async () => {
  const nodes = `${base}/gateway/nodes`;
  const rebound = await getWithHost(nodes, `evil.example:${gw.port}`);
  expect(rebound.status).toBe(403);
  expect(rebound.body).toMatch(/host "evil\.example:\d+" is not allowed/);
  expect((await getWithHost(nodes, `localhost:${gw.port}`)).status).toBe(200);
  expect((await getWithHost(nodes, `127.0.0.1:${gw.port}`)).status).toBe(200);
  const named = await startGateway({ nodes: [tc.cluster.nodes[0]!], port: 0, allowedHosts: ['demo.lan'] });
  try {
    expect((await getWithHost(`${named.url}gateway/nodes`, `demo.lan:${named.port}`)).status).toBe(200);
    expect((await getWithHost(`${named.url}gateway/nodes`, `evil.example:${named.port}`)).status).toBe(403);
  } finally {
    await named.close();
  }
});

test("a node's errors arrive with their code, message and details", async () => {
  const notFound = await failure(api().get('gw/never-written', new Uint8Array()));
  expect([notFound.code, notFound.details]).toEqual([grpcStatus.NOT_FOUND, 'no document gw/never-written']);
  await api().putIfAbsent('wallet/gw', new TextEncoder().encode('100'));
  const refused = await failure(api().counterAdd('wallet/gw', -101n, 0n));
  expect(refused.code).toBe(grpcStatus.FAILED_PRECONDITION);
  expect((await api().counterAdd('wallet/gw', -100n, 0n)).value).toBe(0n);
});

test('admin calls are signed by the gateway; the token never reaches a page', async () => {
  const res = await api().setLinkFaults('n1', [{ peerId: 'n2', cut: false, delayMs: 5 }], true);
  expect(res.faults).toEqual([{ peerId: 'n2', cut: false, delayMs: 5 }]);
  await api().setLinkFaults('n1', [], true);
  const info = await (await fetch(`${base}/gateway/nodes`)).text();
  expect(info).not.toContain(testAdminToken);
  const unsigned = await startGateway({ nodes: [tc.cluster.nodes[0]!], port: 0 });
  try {
    const err = await failure(new ConcordWebApi({ baseUrl: unsigned.url.replace(/\/$/, '') }).setLinkFaults('n1', [], true));
    expect(err.code).toBe(grpcStatus.UNAUTHENTICATED);
  } finally {
    await unsigned.close();
  }
});

test('only gRPC-Web, and only the public services', async () => {
  const post = (path: string, type = 'application/grpc-web+proto'): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(5) });
  expect((await post('/concord.v1.PeerService/Digest')).status).toBe(404);
  expect((await post('/concord.v1.DocumentService/Get', 'application/json')).status).toBe(415);
  expect((await fetch(`${base}/concord.v1.DocumentService/Get`)).status).toBe(405);
  const truncated = await fetch(`${base}/concord.v1.DocumentService/Get`, { method: 'POST', headers: { 'content-type': 'application/grpc-web' }, body: new Uint8Array([0, 0, 0, 0, 9, 1]) });
  expect(new TextDecoder().decode(await truncated.arrayBuffer())).toContain('grpc-status: 3');
});

test('a killed node is out of rotation within two seconds', async () => {
  await tc.cluster.kill('n3');
  const killedAt = Date.now();
  let info: GatewayClusterInfo;
  do {
    info = (await (await fetch(`${base}/gateway/nodes`)).json()) as GatewayClusterInfo;
    await new Promise((r) => setTimeout(r, 50));
  } while (info.nodes.find((n) => n.id === 'n3')?.healthy === true && Date.now() - killedAt < 5000);
  expect(Date.now() - killedAt).toBeLessThan(2000);
  for (let i = 0; i < 6; i++) expect((await api().get('gw/doc', new Uint8Array())).nodeId).not.toBe('n3');
}, 30_000);
