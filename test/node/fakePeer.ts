import * as grpc from '@grpc/grpc-js';
import { PeerMessage, PeerServiceService, UpdateBatch } from '../../proto/gen/concord/v1/peer';
import { LinkFaults } from '../../services/node/LinkFaults';
import { PeerLink, type PeerLinkOptions } from '../../services/node/PeerLink';

export type PeerStream = grpc.ServerDuplexStream<PeerMessage, PeerMessage>;

const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<never>): void => callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });

/** Answers a hello with the fake peer's own (it names nothing owed). */
export const answerHello = (call: PeerStream): void => {
  call.write({ body: { $case: 'hello', value: { nodeId: 'p', clusterId: 'c', incarnation: 1n, owedDocuments: [], owedComplete: true } } });
};

/**
 * A minimal replication peer on loopback (port 0: any free port): calls `onHello` for every
 * hello (by default it answers with its own) and `onBatch` for every batch (by default nothing:
 * no ack). The anti-entropy calls are unimplemented.
 */
export async function startFakePeer(
  port: number,
  on: { onHello?: (call: PeerStream) => void; onBatch?: (call: PeerStream, batch: UpdateBatch) => void } = {},
): Promise<{ server: grpc.Server; port: number }> {
  const { onHello = answerHello, onBatch } = on;
  const server = new grpc.Server();
  server.addService(PeerServiceService, {
    replicate: (call: PeerStream) => {
      call.on('data', (msg: PeerMessage) => {
        if (msg.body?.$case === 'hello') onHello(call);
        else if (msg.body?.$case === 'batch') onBatch?.(call, msg.body.value);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
    digest: unimplemented,
    sync: unimplemented,
    pushDiff: unimplemented,
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port: bound };
}

/** A link from node n1 to peer p on a loopback `port` (not started): small batches, 100 ms heartbeats, no callbacks; `options` override. */
export function linkToFakePeer(port: number, options: Partial<PeerLinkOptions> = {}): PeerLink {
  return new PeerLink({
    selfId: 'n1', clusterId: 'c', incarnation: 1n, peerId: 'p', address: `127.0.0.1:${port}`,
    heartbeatIntervalMs: 100, reconnectDelayMsMax: 200, batchUpdatesMax: 64, batchBytesMax: 1 << 20, queueBytesMax: 1 << 20,
    faults: new LinkFaults(), onConnected: () => undefined, onAck: () => undefined, acksAwaited: () => false,
    ...options,
  });
}
