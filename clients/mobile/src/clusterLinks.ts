import type { LinkFault, StatusResponse } from '../../../proto/gen/concord/v1/admin';

// The cluster panel's view of links and the SetLinkFaults calls behind its buttons. A node cuts
// or delays only its own side of a link, so changing link a-b is two calls (a about b, b about
// a); changes merge with the faults in force (replace=false), keeping a delay when cutting and a
// cut when delaying, as `concord partition`/`delay` do.

export type LinkState = 'up' | 'cut' | 'delayed' | 'down' | 'unknown';

export interface LinkView {
  readonly a: string;
  readonly b: string;
  readonly state: LinkState;
  readonly delayMs: number;
}

export interface FaultCall {
  readonly node: string;
  readonly faults: LinkFault[];
  readonly replace: boolean;
}

export type Statuses = ReadonlyMap<string, StatusResponse | undefined>;

export function pairs(ids: readonly string[]): [string, string][] {
  return ids.flatMap((a, i) => ids.slice(i + 1).map((b): [string, string] => [a, b]));
}

/** One view per link: a cut on either side wins, then a delay, then what the detector sees. */
export function linkViews(ids: readonly string[], statuses: Statuses): LinkView[] {
  return pairs(ids).map(([a, b]) => {
    const ab = statuses.get(a)?.peers.find((p) => p.nodeId === b);
    const ba = statuses.get(b)?.peers.find((p) => p.nodeId === a);
    if (ab === undefined || ba === undefined) {
      // One end does not answer (killed or stopped): the link is down whatever the other says.
      return { a, b, state: ab?.cut || ba?.cut ? 'cut' : statuses.get(a) || statuses.get(b) ? 'down' : 'unknown', delayMs: 0 };
    }
    const delayMs = Math.max(ab.delayMs, ba.delayMs);
    if (ab.cut || ba.cut) return { a, b, state: 'cut', delayMs };
    if (delayMs > 0) return { a, b, state: 'delayed', delayMs };
    return { a, b, state: ab.reachable && ba.reachable ? 'up' : 'down', delayMs };
  });
}

function current(statuses: Statuses, from: string, to: string): { cut: boolean; delayMs: number } {
  const peer = statuses.get(from)?.peers.find((p) => p.nodeId === to);
  return { cut: peer?.cut ?? false, delayMs: peer?.delayMs ?? 0 };
}

function planLinks(links: readonly [string, string][], statuses: Statuses, next: (c: { cut: boolean; delayMs: number }) => { cut: boolean; delayMs: number }): FaultCall[] {
  const byNode = new Map<string, LinkFault[]>();
  const add = (from: string, to: string): void => {
    const faults = byNode.get(from) ?? [];
    faults.push({ peerId: to, ...next(current(statuses, from, to)) });
    byNode.set(from, faults);
  };
  for (const [a, b] of links) {
    add(a, b);
    add(b, a);
  }
  return [...byNode.entries()].map(([node, faults]) => ({ node, faults, replace: false }));
}

export function planCut(a: string, b: string, cut: boolean, statuses: Statuses): FaultCall[] {
  return planLinks([[a, b]], statuses, (c) => ({ cut, delayMs: c.delayMs }));
}

export function planDelay(a: string, b: string, delayMs: number, statuses: Statuses): FaultCall[] {
  return planLinks([[a, b]], statuses, (c) => ({ cut: c.cut, delayMs }));
}

/** Cuts `node` from every other node: it alone is the minority side. */
export function planIsolate(node: string, ids: readonly string[], statuses: Statuses): FaultCall[] {
  const links = ids.filter((id) => id !== node).map((id): [string, string] => [node, id]);
  return planLinks(links, statuses, (c) => ({ cut: true, delayMs: c.delayMs }));
}

/** Every node clears every fault. */
export function planHealAll(ids: readonly string[]): FaultCall[] {
  return ids.map((node) => ({ node, faults: [], replace: true }));
}
