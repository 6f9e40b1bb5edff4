// The receiving side of replication tells the failure detector when a peer's stream brings a
// message (see PeerLink.heardOnPeerStream): only once the stream's hello named the peer, and
// never while the link to it is cut. Real gRPC on loopback; the node behind the service is a
// stand-in that only hellos and heartbeats reach.
import * as grpc from '@grpc/grpc-js';
import { PeerMessage, PeerServiceClient, PeerServiceService } from '../../proto/gen/concord/v1/peer';
import type { DocumentNode } from '../../services/node/DocumentNode';
import { LinkFaults } from '../../services/node/LinkFaults';
import { peerService } from '../../services/rpc/peerService';
import { sleep, until } from '../node/fakeVoter';

const heartbeat: PeerMessage = { body: { $case: 'heartbeat', value: { sentAtMs: 0n } } };
const hello = (nodeId: string): PeerMessage => ({ body: { $case: 'hello', value: { nodeId, clusterId: 'c', incarnation: 1n, owedDocuments: [], owedComplete: false } } });

test('a peer stream reports its messages once its hello named the peer, and none while the link is cut', async () => {
  const heard: string[] = [];
  const faults = new LinkFaults();
  const node = { role: 'master', nodeId: 'n2' } as unknown as DocumentNode;
  const server = new grpc.Server();
  server.addService(PeerServiceService, peerService(node, { faults, clusterId: 'c', incarnation: 1n, log: () => undefined, onPeerMessage: (p) => heard.push(p) }));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const client = new PeerServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const stream = client.replicate();
  const answers: PeerMessage[] = [];
  stream.on('data', (m: PeerMessage) => answers.push(m));
  stream.on('error', () => undefined);
  try {
    // Before the hello the stream names no peer: its heartbeat is answered, and reported nowhere.
    stream.write(heartbeat);
    await until('the first heartbeat answered', () => answers.length === 1);
    expect(heard).toEqual([]);
    stream.write(hello('n1'));
    stream.write(heartbeat);
    await until('the hello and the second heartbeat answered', () => answers.length === 3);
    expect(heard).toEqual(['n1']);
    // Cut: the stream ends (the service closes it), and what came on it before counted.
    faults.set('n1', { cut: true, delayMs: 0 });
    stream.write(heartbeat);
    await sleep(100);
    expect(heard).toEqual(['n1']);
  } finally {
    stream.cancel();
    client.close();
    server.forceShutdown();
  }
});
