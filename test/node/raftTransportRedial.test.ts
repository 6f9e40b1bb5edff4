// After a long silence the consensus transport dials a fresh client only when its connection is
// gone: a cut above the transport leaves the connection up (keepalive pings), and reusing it
// saves a TCP and HTTP/2 handshake after the heal; a connection that died is replaced. Real
// gRPC on loopback against a minimal voter that counts the batches it receives.
import * as grpc from '@grpc/grpc-js';
import { asNodeId } from '../../services/core/consensus';
import { RaftBatch, RaftServiceService, RaftStreamAck } from '../../proto/gen/concord/v1/raft';
import { RaftTransport } from '../../services/node/authority/RaftTransport';
import { LinkFaults } from '../../services/node/LinkFaults';
import { redialAfterMs } from '../../services/node/peerChannelOptions';

async function startVoter(port: number, received: { n: number }): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(RaftServiceService, {
    stream: (call: grpc.ServerReadableStream<RaftBatch, RaftStreamAck>, callback: grpc.sendUnaryData<RaftStreamAck>) => {
      call.on('data', () => received.n++);
      call.on('end', () => callback(null, {}));
      call.on('error', () => undefined);
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('the consensus transport keeps its client across a long cut while the connection is up, and replaces it once the connection died', async () => {
  const received = { n: 0 };
  let voter = await startVoter(0, received);
  const faults = new LinkFaults();
  const transport = new RaftTransport('n1', 'c', [{ id: 'n1', address: '127.0.0.1:1' }, { id: 'p', address: `127.0.0.1:${voter.port}` }], faults);
  const heartbeat = () => [{ type: 'heartbeat' as const, from: asNodeId('n1'), to: asNodeId('p'), term: 1, commit: 0, readContext: null }];
  try {
    transport.send(heartbeat());
    await until('the first batch', () => received.n === 1);
    const first = transport.clientOf('p');

    // Silent longer than the redial threshold while cut (nothing heard from p all along).
    faults.set('p', { cut: true, delayMs: 0 });
    await sleep(redialAfterMs + 300);
    faults.set('p', { cut: false, delayMs: 0 });
    transport.send(heartbeat());
    await until('the batch after the heal', () => received.n === 2);
    expect(transport.clientOf('p')).toBe(first);

    // Now the connection dies during the cut (the voter restarts on the same port).
    faults.set('p', { cut: true, delayMs: 0 });
    voter.server.forceShutdown();
    voter = await startVoter(voter.port, received);
    await sleep(redialAfterMs + 300);
    faults.set('p', { cut: false, delayMs: 0 });
    transport.send(heartbeat());
    await until('a batch to the restarted voter', () => received.n === 3);
    expect(transport.clientOf('p')).not.toBe(first);
  } finally {
    transport.close();
    voter.server.forceShutdown();
  }
}, 20_000);
