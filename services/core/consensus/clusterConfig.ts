// Cluster membership as carried by `config` log entries and snapshots. A config entry holds
// the complete new configuration (not a delta), so the configuration in force at any index is
// simply the last config entry at or before it (Raft thesis §4.1: a server uses the latest
// configuration in its log, committed or not). Changes are one server at a time (§4.2).

import { assert, type ClusterConfig, type NodeId, type Snapshot } from './types';

export type ConfChange =
  | { readonly type: 'add-learner'; readonly node: NodeId }
  | { readonly type: 'add-voter'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId };

export const emptyClusterConfig: ClusterConfig = { voters: [], learners: [] };

export function configOfSnapshot(s: Snapshot): ClusterConfig {
  return { voters: s.voters, learners: s.learners };
}

export function isVoter(c: ClusterConfig, id: NodeId): boolean {
  return c.voters.includes(id);
}

export function isMember(c: ClusterConfig, id: NodeId): boolean {
  return c.voters.includes(id) || c.learners.includes(id);
}

export function membersOf(c: ClusterConfig): NodeId[] {
  return [...c.voters, ...c.learners];
}

export function configEqual(a: ClusterConfig, b: ClusterConfig): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]) =>
    x.length === y.length && x.every((id) => y.includes(id));
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

export type ConfChangeResult =
  | { readonly ok: true; readonly config: ClusterConfig }
  | { readonly ok: false; readonly reason: 'no-change' | 'last-voter' };

/** Applies one membership change. Voters and learners stay sorted so encodings are canonical. */
export function applyConfChange(c: ClusterConfig, change: ConfChange): ConfChangeResult {
  const sorted = (ids: NodeId[]) => ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const without = (ids: readonly NodeId[]) => ids.filter((id) => id !== change.node);
  switch (change.type) {
    case 'add-learner':
      if (isMember(c, change.node)) return { ok: false, reason: 'no-change' };
      return { ok: true, config: { voters: [...c.voters], learners: sorted([...c.learners, change.node]) } };
    case 'add-voter':
      if (isVoter(c, change.node)) return { ok: false, reason: 'no-change' };
      return {
        ok: true,
        config: { voters: sorted([...c.voters, change.node]), learners: without(c.learners) },
      };
    case 'remove':
      if (!isMember(c, change.node)) return { ok: false, reason: 'no-change' };
      if (isVoter(c, change.node) && c.voters.length === 1) return { ok: false, reason: 'last-voter' };
      return { ok: true, config: { voters: without(c.voters), learners: without(c.learners) } };
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Encodes a configuration for a `config` entry. Inverse of decodeClusterConfig. */
export function encodeClusterConfig(c: ClusterConfig): Uint8Array {
  return textEncoder.encode(JSON.stringify({ voters: c.voters, learners: c.learners }));
}

/** Decodes a `config` entry's data. Throws on malformed data: the log is corrupt. */
export function decodeClusterConfig(data: Uint8Array): ClusterConfig {
  const parsed: unknown = JSON.parse(textDecoder.decode(data));
  assert(typeof parsed === 'object' && parsed !== null, 'config entry is an object');
  const { voters, learners } = parsed as { voters?: unknown; learners?: unknown };
  const ids = (v: unknown): NodeId[] => {
    assert(Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0), 'config ids');
    return v as NodeId[];
  };
  return { voters: ids(voters), learners: ids(learners) };
}
