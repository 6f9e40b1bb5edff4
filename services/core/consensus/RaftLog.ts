// The log as the state machine sees it: what is durable (read through RaftStorage) followed by
// what is not yet (the unstable tail and possibly a snapshot received from the leader and not
// yet persisted). Tracks commit and apply positions and the latest cluster configuration found
// in the log, because under single-server membership changes a config entry takes effect as
// soon as it is appended (Raft thesis §4.1).

import { configOfSnapshot, decodeClusterConfig } from './clusterConfig';
import type { RaftStorage } from './RaftStorage';
import { assert, entryBytes, type ClusterConfig, type Entry, type Snapshot } from './types';

/** Chunk used when scanning the durable log backwards for a config entry. */
const configScanChunkEntries = 256;

export class RaftLog {
  /** Highest index known to be committed (stored on a quorum). */
  committed: number;
  /** Highest index handed to the application and acknowledged via advance(). */
  applied: number;

  private unstableSnap: Snapshot | null = null;
  private unstable: Entry[] = [];
  /** Index of unstable[0]; everything below comes from storage (or the unstable snapshot). */
  private offset: number;

  private cfg: ClusterConfig;
  private cfgIndex: number;

  constructor(private readonly storage: RaftStorage) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.offset = last + 1;
    this.committed = first - 1;
    this.applied = first - 1;
    const found = this.scanConfig(last);
    this.cfg = found.config;
    this.cfgIndex = found.index;
  }

  /** The configuration of the latest config entry in the log (or the snapshot's). */
  config(): ClusterConfig {
    return this.cfg;
  }

  /** Index the current configuration came from (a config entry, or a snapshot index). */
  configIndex(): number {
    return this.cfgIndex;
  }

  firstIndex(): number {
    if (this.unstableSnap !== null) return this.unstableSnap.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstable.length > 0) return this.offset + this.unstable.length - 1;
    if (this.unstableSnap !== null) return this.unstableSnap.index;
    return this.storage.lastIndex();
  }

  /** Term at index, or undefined when compacted away or beyond the end of the log. */
  term(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    if (this.unstableSnap !== null && index === this.unstableSnap.index) return this.unstableSnap.term;
    if (index >= this.offset) return this.unstable[index - this.offset]?.term;
    if (this.unstableSnap !== null) return undefined;
    const r = this.storage.term(index);
    return r.ok ? r.term : undefined;
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'the last entry has a term');
    return t;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry whose term differs from ours (or that we lack); 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * Fast backtracking: the largest index ≤ `index` whose term is ≤ `term`, i.e. the last place
   * where a log whose entry at `index` has term `term` could still match ours. An index whose
   * term we no longer know (compacted) is returned as a possible match with term 0.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * Follower side of AppendEntries (§5.3): if our log matches (prevIndex, prevTerm), append the
   * entries (truncating a conflicting uncommitted tail), advance commit, and return the index
   * of the last new entry. Returns null on mismatch.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Appends entries after the committed prefix, replacing any tail from the first new index. */
  append(entries: readonly Entry[]): number {
    const head = entries[0];
    if (head === undefined) return this.lastIndex();
    const from = head.index;
    assert(from > this.committed, `append at ${from} would overwrite committed ${this.committed}`);
    assert(from <= this.lastIndex() + 1, `append at ${from} leaves a gap after ${this.lastIndex()}`);
    if (from === this.offset + this.unstable.length) {
      for (const e of entries) this.unstable.push(e);
    } else if (from <= this.offset) {
      // Replaces everything from `from` on; storage keeps stale entries until the shell
      // persists these, which overwrites them.
      this.offset = from;
      this.unstable = [...entries];
    } else {
      this.unstable = this.unstable.slice(0, from - this.offset).concat(entries);
    }
    this.trackConfig(entries, from);
    return this.lastIndex();
  }

  /**
   * Entries in [lo, hi), at least one when lo < hi, stopping before the data size would pass
   * maxSizeBytes. Null if lo was compacted away.
   */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] | null {
    if (lo < this.firstIndex()) return null;
    assert(lo <= hi && hi <= this.lastIndex() + 1, `slice [${lo},${hi}) within log ending at ${this.lastIndex()}`);
    if (lo === hi) return [];
    let out: Entry[] = [];
    if (lo < this.offset) {
      const storedHi = Math.min(hi, this.offset);
      const r = this.storage.entries(lo, storedHi, maxSizeBytes);
      if (!r.ok) return null;
      out = [...r.entries];
      if (out.length < storedHi - lo) return out;
    }
    if (hi > this.offset) {
      const from = Math.max(lo, this.offset);
      out = out.concat(this.unstable.slice(from - this.offset, hi - this.offset));
    }
    return limitSize(out, maxSizeBytes);
  }

  /** Entries from `index` to the end, size-limited; null if compacted. */
  entriesFrom(index: number, maxSizeBytes: number): Entry[] | null {
    if (index > this.lastIndex()) return [];
    return this.slice(index, this.lastIndex() + 1, maxSizeBytes);
  }

  /** Committed entries not yet applied (size-limited). */
  nextCommittedEntries(maxSizeBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (lo > this.committed) return [];
    const ents = this.slice(lo, this.committed + 1, maxSizeBytes);
    assert(ents !== null, 'unapplied committed entries are not compacted');
    return ents;
  }

  hasNextCommittedEntries(): boolean {
    return Math.max(this.applied + 1, this.firstIndex()) <= this.committed;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, `applied ${index} beyond committed ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /** The shell persisted entries up to (index, term); drop them from the unstable tail. */
  stableTo(index: number, term: number): void {
    if (this.unstableSnap !== null) return;
    const e = this.unstable[index - this.offset];
    // A different term means the tail was replaced after the Ready was built; keep it.
    if (e === undefined || e.term !== term) return;
    this.unstable = this.unstable.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnap !== null && this.unstableSnap.index === index) this.unstableSnap = null;
  }

  /** Replaces the log by a snapshot from the leader. */
  restore(snap: Snapshot): void {
    assert(snap.index > this.committed, `restore ${snap.index} at or below committed ${this.committed}`);
    this.committed = snap.index;
    this.unstableSnap = snap;
    this.unstable = [];
    this.offset = snap.index + 1;
    this.cfg = configOfSnapshot(snap);
    this.cfgIndex = snap.index;
  }

  /** The newest snapshot: a pending one from the leader, else storage's. */
  snapshot(): Snapshot {
    return this.unstableSnap ?? this.storage.snapshot();
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable;
  }

  unstableSnapshot(): Snapshot | null {
    return this.unstableSnap;
  }

  private trackConfig(entries: readonly Entry[], from: number): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      if (e !== undefined && e.kind === 'config') {
        this.cfg = decodeClusterConfig(e.data);
        this.cfgIndex = e.index;
        return;
      }
    }
    if (from <= this.cfgIndex) {
      // The entry our configuration came from was truncated: fall back to the one before.
      const found = this.scanConfig(from - 1);
      this.cfg = found.config;
      this.cfgIndex = found.index;
    }
  }

  /** Latest configuration at or below `upTo`, scanning the log backwards. */
  private scanConfig(upTo: number): { config: ClusterConfig; index: number } {
    const first = this.firstIndex();
    for (let hi = upTo + 1; hi > first; hi -= configScanChunkEntries) {
      const lo = Math.max(first, hi - configScanChunkEntries);
      const ents = this.slice(lo, hi, Number.POSITIVE_INFINITY);
      assert(ents !== null && ents.length === hi - lo, 'config scan reads the whole log');
      for (let i = ents.length - 1; i >= 0; i--) {
        const e = ents[i];
        if (e !== undefined && e.kind === 'config') return { config: decodeClusterConfig(e.data), index: e.index };
      }
    }
    const snap = this.snapshot();
    return { config: configOfSnapshot(snap), index: Math.min(snap.index, first - 1) };
  }
}

function limitSize(entries: Entry[], maxSizeBytes: number): Entry[] {
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e === undefined) break;
    size += entryBytes(e);
    if (i > 0 && size > maxSizeBytes) return entries.slice(0, i);
  }
  return entries;
}
