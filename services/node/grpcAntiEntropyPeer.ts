import { Metadata } from '@grpc/grpc-js';
import { PeerServiceClient } from '../../proto/gen/concord/v1/peer';
import { AntiEntropyPeer } from './AntiEntropy';
import { callUnary } from './callUnary';
import { nodeIdHeader } from './peerChannelOptions';

/** The anti-entropy port over a peer's gRPC PeerService. */
export function grpcAntiEntropyPeer(client: PeerServiceClient, selfId: string): AntiEntropyPeer {
  const md = (): Metadata => {
    const m = new Metadata();
    m.set(nodeIdHeader, selfId);
    return m;
  };
  return {
    digest: (req, ms) => callUnary(client.digest.bind(client), req, ms, md()),
    sync: (req, ms) => callUnary(client.sync.bind(client), req, ms, md()),
    pushDiff: (req, ms) => callUnary(client.pushDiff.bind(client), req, ms, md()),
  };
}
