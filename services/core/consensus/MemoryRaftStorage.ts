// An in-memory RaftStorage with the write side a shell needs. Used by tests and the simulator
// (where it plays the role of the disk: whatever was written here survives a crash), and as
// the reference behaviour for the disk-backed implementation.

import type { EntriesResult, RaftStorage, TermResult } from './RaftStorage';
import {
  assert,
  emptyHardState,
  entryBytes,
  type ClusterConfig,
  type Entry,
  type HardState,
  type Snapshot,
} from './types';

export type SnapshotWriteResult = 'ok' | 'out-of-date';

export class MemoryRaftStorage implements RaftStorage {
  private hard: HardState = emptyHardState;
  private snap: Snapshot;
  /** ents[0] is a placeholder for the compaction point: its index and term, no data. */
  private ents: Entry[];

  /** Bootstraps a member of a new cluster whose initial configuration is `config`. */
  constructor(config: ClusterConfig) {
    this.snap = { index: 0, term: 0, voters: [...config.voters], learners: [...config.learners], data: new Uint8Array() };
    this.ents = [{ index: 0, term: 0, kind: 'noop', data: new Uint8Array() }];
  }

  initialState(): HardState {
    return this.hard;
  }

  firstIndex(): number {
    return this.head().index + 1;
  }

  lastIndex(): number {
    return this.head().index + this.ents.length - 1;
  }

  term(index: number): TermResult {
    const offset = this.head().index;
    if (index < offset) return { ok: false, reason: 'compacted' };
    if (index > this.lastIndex()) return { ok: false, reason: 'unavailable' };
    const e = this.ents[index - offset];
    assert(e !== undefined, 'term lookup within bounds');
    return { ok: true, term: e.term };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): EntriesResult {
    const offset = this.head().index;
    if (lo <= offset) return { ok: false, reason: 'compacted' };
    assert(lo <= hi && hi <= this.lastIndex() + 1, `entries [${lo},${hi}) within log ending at ${this.lastIndex()}`);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset];
      assert(e !== undefined, 'entry within bounds');
      size += entryBytes(e);
      if (out.length > 0 && size > maxSizeBytes) break;
      out.push(e);
    }
    return { ok: true, entries: out };
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // --- write side (the shell's job; not part of the RaftStorage port) ---

  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  /**
   * Appends entries, replacing any existing entries from the first new index onward (a leader
   * may overwrite an uncommitted tail). Entries at or below the compaction point are skipped.
   */
  append(entries: readonly Entry[]): void {
    const firstNew = entries[0];
    if (firstNew === undefined) return;
    const first = this.firstIndex();
    let ents = entries;
    if (firstNew.index + ents.length - 1 < first) return;
    if (firstNew.index < first) ents = ents.slice(first - firstNew.index);
    const start = ents[0];
    assert(start !== undefined, 'non-empty after trimming');
    const offset = start.index - this.head().index;
    assert(offset <= this.ents.length, `append at ${start.index} leaves a gap after ${this.lastIndex()}`);
    // In place: copying the whole log on every append cost each node 30-40 µs per sequential
    // put with a few thousand entries held between snapshots.
    this.ents.length = offset;
    for (const e of ents) this.ents.push(e);
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): SnapshotWriteResult {
    if (snap.index <= this.snap.index) return 'out-of-date';
    this.snap = snap;
    this.ents = [{ index: snap.index, term: snap.term, kind: 'noop', data: new Uint8Array() }];
    return 'ok';
  }

  /**
   * Records the application's own snapshot at `index` (≤ applied). Does not drop entries;
   * call compact() for that.
   */
  createSnapshot(index: number, config: ClusterConfig, data: Uint8Array): SnapshotWriteResult {
    if (index <= this.snap.index) return 'out-of-date';
    const t = this.term(index);
    assert(t.ok, `snapshot index ${index} is in the log`);
    this.snap = { index, term: t.term, voters: [...config.voters], learners: [...config.learners], data };
    return 'ok';
  }

  /**
   * Drops entries up to and including `index`. A snapshot at or above `index` must exist, so
   * a follower that needs the dropped entries can be sent it.
   */
  compact(index: number): void {
    const offset = this.head().index;
    if (index <= offset) return;
    assert(index <= this.lastIndex(), `compact ${index} beyond last index ${this.lastIndex()}`);
    assert(index <= this.snap.index, `compact ${index} beyond snapshot ${this.snap.index}`);
    const e = this.ents[index - offset];
    assert(e !== undefined, 'compaction point in bounds');
    this.ents = [{ index: e.index, term: e.term, kind: 'noop', data: new Uint8Array() }, ...this.ents.slice(index - offset + 1)];
  }

  private head(): Entry {
    const e = this.ents[0];
    assert(e !== undefined, 'placeholder entry exists');
    return e;
  }
}
