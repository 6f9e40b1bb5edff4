import { status } from '@grpc/grpc-js';
import type { ConcordClient } from '../client/ConcordClient';
import type { CallOptions } from '../client/ConcordClientOptions';
import { serviceError } from '../client/serviceError';
import { errorText } from './errorText';
import type { NodeLinks } from './linkFaultPlans';

// Commands name nodes by id (n1); the node behind each endpoint says its id in Status, along
// with the faults on its links. One Status round over the endpoints resolves every id and gives
// the link state the fault plans merge with.

export interface ClusterView {
  /** Reachable endpoints by node id, in endpoint order. */
  nodes: Map<string, NodeLinks>;
  unreachable: { address: string; error: unknown }[];
  /** Peer id -> address as the reachable nodes know it, to say which endpoint is missing. */
  peerAddresses: Map<string, string>;
}

export async function clusterView(client: ConcordClient, options: CallOptions = {}): Promise<ClusterView> {
  const view: ClusterView = { nodes: new Map(), unreachable: [], peerAddresses: new Map() };
  for (const result of await client.statusAll(options)) {
    if (!result.ok) {
      view.unreachable.push({ address: result.address, error: result.error });
      continue;
    }
    const { nodeId, peers } = result.status;
    if (view.nodes.has(nodeId)) continue; // the same node listed under two addresses
    view.nodes.set(nodeId, {
      nodeId,
      address: result.address,
      peers: new Map(peers.map((p) => [p.nodeId, { cut: p.cut, delayMs: p.delayMs }])),
    });
    for (const p of peers) view.peerAddresses.set(p.nodeId, p.address);
  }
  return view;
}

/** Throws NOT_FOUND, saying why, unless every id is a reachable endpoint; `note` ends the message. */
export function requireNodes(view: ClusterView, ids: readonly string[], note = ''): void {
  const missing = ids.filter((id) => !view.nodes.has(id));
  if (missing.length === 0) return;
  const reasons = missing.map((id) => {
    const address = view.peerAddresses.get(id);
    if (address === undefined) return `no node ${id}`;
    const down = view.unreachable.find((u) => u.address === address);
    if (down !== undefined) return `${id} (${address}) is unreachable: ${errorText(down.error)}`;
    return `${id} is at ${address} but that is not one of the endpoints (add it to --endpoints or CONCORD_ENDPOINTS)`;
  });
  const found = [...view.nodes.values()].map((n) => `${n.nodeId} ${n.address}`).join(', ') || 'none';
  const mentioned = new Set(missing.map((id) => view.peerAddresses.get(id)));
  const down = view.unreachable.filter((u) => !mentioned.has(u.address));
  const downText = down.length > 0 ? `; unreachable endpoints: ${down.map((u) => u.address).join(', ')}` : '';
  throw serviceError(status.NOT_FOUND, `${reasons.join('; ')} (reachable: ${found}${downText})${note}`);
}
