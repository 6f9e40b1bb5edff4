import { status } from '@grpc/grpc-js';
import type { LinkFault } from '../../proto/gen/concord/v1/admin';
import { serviceError } from '../client/serviceError';

// What each node must be told so a partition, heal or delay holds in both directions. A node
// cuts or delays only its own side of a link (its peer transport), so every change to a link
// a-b is two SetLinkFaults calls, one on a about b and one on b about a. Changes merge with the
// faults in force (replace=false), keeping the other half of each link's fault as it was (a
// partition keeps a delay, a delay keeps a cut), so successive commands compose.

/** One node as Status shows it: where it is and the faults on its links. */
export interface NodeLinks {
  nodeId: string;
  address: string;
  /** Peer id -> the fault this node has on its link to that peer (none: cut false, delay 0). */
  peers: ReadonlyMap<string, { cut: boolean; delayMs: number }>;
}

/** One SetLinkFaults call to make. */
export interface FaultChange {
  nodeId: string;
  address: string;
  faults: LinkFault[];
  replace: boolean;
}

type Nodes = ReadonlyMap<string, NodeLinks>;

/** Both ends of every link in `links` cut, each node in one call. */
export function planCuts(links: readonly (readonly [string, string])[], nodes: Nodes): FaultChange[] {
  return planLinkChanges(links, nodes, (current) => ({ cut: true, delayMs: current.delayMs }));
}

/** `delayMs` on both directions of the link a-b (0 clears the delay). */
export function planDelay(a: string, b: string, delayMs: number, nodes: Nodes): FaultChange[] {
  return planLinkChanges([[a, b]], nodes, (current) => ({ cut: current.cut, delayMs }));
}

/**
 * With no ids: every node clears every fault. With ids: each named node clears all of its
 * faults, and every other node clears its faults towards the named nodes.
 */
export function planHeal(ids: readonly string[], nodes: Nodes): FaultChange[] {
  if (ids.length === 0) return [...nodes.values()].map((n) => ({ nodeId: n.nodeId, address: n.address, faults: [], replace: true }));
  const named = new Set(ids);
  const changes: FaultChange[] = [];
  for (const id of ids) {
    const node = nodeOf(nodes, id);
    changes.push({ nodeId: id, address: node.address, faults: [], replace: true });
  }
  for (const node of nodes.values()) {
    if (named.has(node.nodeId)) continue;
    const faults = [...node.peers.keys()].filter((peer) => named.has(peer)).map((peerId) => ({ peerId, cut: false, delayMs: 0 }));
    if (faults.length > 0) changes.push({ nodeId: node.nodeId, address: node.address, faults, replace: false });
  }
  return changes;
}

function planLinkChanges(
  links: readonly (readonly [string, string])[],
  nodes: Nodes,
  next: (current: { cut: boolean; delayMs: number }) => { cut: boolean; delayMs: number },
): FaultChange[] {
  const byNode = new Map<string, FaultChange>();
  const add = (from: string, to: string): void => {
    const node = nodeOf(nodes, from);
    const current = node.peers.get(to);
    if (current === undefined) throw serviceError(status.NOT_FOUND, `${from} has no peer ${to} (its peers: ${[...node.peers.keys()].join(', ') || 'none'})`);
    let change = byNode.get(from);
    if (change === undefined) byNode.set(from, (change = { nodeId: from, address: node.address, faults: [], replace: false }));
    change.faults.push({ peerId: to, ...next(current) });
  };
  for (const [a, b] of links) {
    add(a, b);
    add(b, a);
  }
  return [...byNode.values()];
}

function nodeOf(nodes: Nodes, id: string): NodeLinks {
  const node = nodes.get(id);
  if (node === undefined) throw serviceError(status.NOT_FOUND, `no node ${id} among the reachable endpoints (found: ${[...nodes.keys()].join(', ') || 'none'})`);
  return node;
}
