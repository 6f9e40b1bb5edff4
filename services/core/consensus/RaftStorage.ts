// The read-side port through which the core sees what the shell has made durable. The core
// never writes through it: the shell persists what Ready hands out (snapshot, entries, hard
// state), then the core reads it back from here. A disk-backed implementation must pass the
// same tests as MemoryRaftStorage (test/core/consensus/raftStorage.contract.ts).
//
// Model: the log is a contiguous run of entries [firstIndex, lastIndex], preceded by a
// "compaction point" at firstIndex-1 whose term is still known (the entry itself is gone).
// A fresh log has firstIndex 1 and lastIndex 0, with term(0) = 0.

import type { Entry, HardState, Snapshot } from './types';

export type TermResult =
  | { readonly ok: true; readonly term: number }
  /** `compacted`: index < firstIndex-1. `unavailable`: index > lastIndex. */
  | { readonly ok: false; readonly reason: 'compacted' | 'unavailable' };

export type EntriesResult =
  | { readonly ok: true; readonly entries: readonly Entry[] }
  | { readonly ok: false; readonly reason: 'compacted' };

export interface RaftStorage {
  /** The hard state last persisted (emptyHardState for a new node). */
  initialState(): HardState;

  /**
   * Entries in [lo, hi). Returns at least one entry when lo < hi, then stops before the
   * total data size would exceed maxSizeBytes. `compacted` if lo < firstIndex. Asking past
   * lastIndex+1 is a programmer error (throw).
   */
  entries(lo: number, hi: number, maxSizeBytes: number): EntriesResult;

  /** Term of the entry at index; valid for firstIndex-1 ≤ index ≤ lastIndex. */
  term(index: number): TermResult;

  /** Index of the first entry still available (compaction point + 1). */
  firstIndex(): number;

  /** Index of the last entry (firstIndex-1 when the log is empty). */
  lastIndex(): number;

  /**
   * The most recent snapshot. Its index is ≥ firstIndex-1 whenever any compaction has
   * happened, so a peer that needs compacted entries can be sent this instead. For a new
   * cluster it is the bootstrap snapshot (index 0, term 0) naming the initial members.
   */
  snapshot(): Snapshot;
}
