import { Server, ServerCredentials, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';

// Process entry: a bare grpc-js server with one unary method that returns its request bytes.
// No protobuf, no work: what it sustains is the ceiling grpc-js allows on this machine. It
// speaks the node's process contract (a JSON ready line; exits on SIGTERM) so the harness
// starts it like a node. Usage: node --import tsx echoServer.ts --listen 127.0.0.1:PORT

export const echoPath = '/bench.Echo/Echo';

function main(): void {
  const at = process.argv.indexOf('--listen');
  const listen = at >= 0 ? process.argv[at + 1] : undefined;
  if (listen === undefined) throw new Error('usage: echoServer.ts --listen host:port');
  const server = new Server();
  const identity = (b: Buffer): Buffer => b;
  server.register(echoPath, (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, call.request), identity, identity, 'unary');
  server.bindAsync(listen, ServerCredentials.createInsecure(), (err, port) => {
    if (err !== null) throw err;
    process.stdout.write(`${JSON.stringify({ event: 'ready', port, pid: process.pid })}\n`);
  });
  const stop = (): void => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();
