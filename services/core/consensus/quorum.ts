// Majority arithmetic over a set of voters. Pure functions; the only place where "how many is
// enough" is decided, so commit, elections, CheckQuorum and ReadIndex all agree.

import { assert, type NodeId } from './types';

export type VoteResult = 'won' | 'lost' | 'pending';

/** Smallest number of voters that forms a majority of `voterCount`. */
export function quorumSize(voterCount: number): number {
  assert(voterCount > 0, 'a quorum needs at least one voter');
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index acknowledged by a majority of voters. `acked` returns a voter's highest
 * acknowledged index, or undefined if it has not reported (counted as 0).
 */
export function committedIndex(
  voters: readonly NodeId[],
  acked: (id: NodeId) => number | undefined,
): number {
  assert(voters.length > 0, 'committedIndex needs at least one voter');
  const indexes = voters.map((id) => acked(id) ?? 0).sort((a, b) => b - a);
  // Sorted descending, the quorum-th largest index is held by at least a quorum of voters.
  const index = indexes[quorumSize(voters.length) - 1];
  assert(index !== undefined, 'quorum position is inside the voter list');
  return index;
}

/**
 * Tallies votes from voters only; votes from non-voters are ignored. `won` once a majority said
 * yes, `lost` once a majority can no longer say yes, otherwise `pending`.
 */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  assert(voters.length > 0, 'voteResult needs at least one voter');
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = quorumSize(voters.length);
  if (yes >= q) return 'won';
  if (yes + missing >= q) return 'pending';
  return 'lost';
}

/** Whether a majority of voters satisfies `isActive` (CheckQuorum, ReadIndex acks). */
export function hasQuorum(voters: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return active >= quorumSize(voters.length);
}
