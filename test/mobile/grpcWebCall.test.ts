// The phone app's gRPC-Web client on a refusal by the gateway itself (not a node's gRPC status):
// the error says why, from the first line of the gateway's plain-text answer, as a page load
// would show it; a body that never ends or never stops does not hold the call.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConcordWebApi } from '../../clients/mobile/src/ConcordWebApi';
import { GrpcWebError, grpcStatus } from '../../clients/mobile/src/GrpcWebError';

let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    if (req.url?.includes('Get')) res.writeHead(403, { 'content-type': 'Text/Plain; charset=utf-8' }).end('host "laptop.local:8080" is not allowed (DNS rebinding defence): use --allowed-hosts\r\nsecond line\r\n');
    else if (req.url?.includes('PushUpdate')) {
      // A proxy's body that never ends: a first part, then nothing.
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('upstream busy, no newline yet');
    } else if (req.url?.includes('CounterAdd')) res.writeHead(502, { 'content-type': 'text/plain' }).end('x'.repeat(4 << 20));
    else res.writeHead(502, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(4));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => {
  server.closeAllConnections();
  server.close(() => resolve());
}));

test("a gateway's plain-text refusal reaches the error's message; other bodies do not", async () => {
  const api = new ConcordWebApi({ baseUrl: base });
  const refused = (await api.get('doc', new Uint8Array()).catch((e: unknown) => e)) as GrpcWebError;
  expect(refused).toBeInstanceOf(GrpcWebError);
  expect(refused.code).toBe(grpcStatus.PERMISSION_DENIED);
  expect(refused.message).toContain('HTTP 403 from the gateway: host "laptop.local:8080" is not allowed (DNS rebinding defence): use --allowed-hosts');
  expect(refused.message).not.toContain('second line');
  const other = (await api.status('n1').catch((e: unknown) => e)) as GrpcWebError;
  expect(other.message).toMatch(/HTTP 502 from the gateway$/);
});

test('a body that never ends, or a huge one, does not hold the call: what arrived first is the reason', async () => {
  const api = new ConcordWebApi({ baseUrl: base });
  const t0 = Date.now();
  const endless = (await api.pushUpdate('doc', new Uint8Array([0, 0])).catch((e: unknown) => e)) as GrpcWebError;
  expect(Date.now() - t0).toBeLessThan(4000);
  expect(endless.code).toBe(grpcStatus.UNAVAILABLE);
  expect(endless.message).toContain('HTTP 503 from the gateway: upstream busy, no newline yet');
  const huge = (await api.counterAdd('w', 1n, 0n).catch((e: unknown) => e)) as GrpcWebError;
  expect(huge.message).toMatch(/HTTP 502 from the gateway: x+$/);
  expect(huge.message.length).toBeLessThan(1200);
});
