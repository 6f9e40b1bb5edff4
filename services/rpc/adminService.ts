import { AdminServiceServer, StatusResponse } from '../../proto/gen/concord/v1/admin';
import { DocumentNode } from '../node/DocumentNode';
import { unary } from './handlers';

export interface AdminInfo {
  readonly address: () => string;
  readonly clusterId: string;
  readonly incarnation: bigint;
  readonly startedAt: number;
  readonly clientId: number;
}

/** Operator view: this node, its peers, and the replication backlog towards each. */
export function adminService(node: DocumentNode, info: AdminInfo): AdminServiceServer {
  return {
    status: unary(async (): Promise<StatusResponse> => ({
      nodeId: node.nodeId,
      role: node.role,
      address: info.address(),
      clusterId: info.clusterId,
      incarnation: info.incarnation,
      documents: BigInt(node.store.size),
      uptimeMs: BigInt(Date.now() - info.startedAt),
      clientId: BigInt(info.clientId),
      traffic: {
        pushBytesReceived: BigInt(node.traffic.pushBytesReceived),
        antiEntropyBytesReceived: BigInt(node.traffic.antiEntropyBytesReceived),
        antiEntropyBytesSent: BigInt(node.traffic.antiEntropyBytesSent),
        antiEntropyRounds: BigInt(node.traffic.antiEntropyRounds),
        catchUpBytesReceived: BigInt(node.traffic.catchUpBytesReceived),
      },
      peers: node.replicator.links.map((l) => ({
        nodeId: l.peerId,
        address: l.address,
        connected: l.connected,
        backlogUpdates: BigInt(l.backlog.updates),
        backlogBytes: BigInt(l.backlog.bytes),
        lastHeardMsAgo: BigInt(Math.max(0, l.lastHeardMsAgo)),
      })),
    })),
  };
}
