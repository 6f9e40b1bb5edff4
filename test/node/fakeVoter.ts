import * as grpc from '@grpc/grpc-js';
import { RaftBatch, RaftServiceService, RaftStreamAck } from '../../proto/gen/concord/v1/raft';

/**
 * A minimal voter on loopback: hands every batch it receives to `onBatch` and answers nothing
 * else (port 0: any free port). It accepts messages up to 64 MiB, so a test sees what a sender
 * writes rather than this server's limit.
 */
export async function startFakeVoter(port: number, onBatch: (batch: RaftBatch) => void): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
  server.addService(RaftServiceService, {
    stream: (call: grpc.ServerReadableStream<RaftBatch, RaftStreamAck>, callback: grpc.sendUnaryData<RaftStreamAck>) => {
      call.on('data', onBatch);
      call.on('end', () => callback(null, {}));
      call.on('error', () => undefined);
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
