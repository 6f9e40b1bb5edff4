// The phone app's gRPC-Web client on a refusal by the gateway itself (not a node's gRPC status):
// the error says why, from the gateway's plain-text answer, as a page load would show it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConcordWebApi } from '../../clients/mobile/src/ConcordWebApi';
import { GrpcWebError, grpcStatus } from '../../clients/mobile/src/GrpcWebError';

let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    if (req.url?.includes('Get')) res.writeHead(403, { 'content-type': 'text/plain' }).end('host "laptop.local:8080" is not allowed (DNS rebinding defence): use --allowed-hosts\nsecond line\n');
    else res.writeHead(502, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(4));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

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
