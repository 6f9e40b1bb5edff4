import {
  ClusterConfig,
  Entry,
  EntriesResult,
  HardState,
  MemoryRaftStorage,
  RaftStorage,
  Snapshot,
  TermResult,
} from '../../core/consensus';
import { StorageEngine, WriteOp } from '../../storage/StorageEngine';
import { RaftEntry, RaftHardState, RaftSnapshot } from '../../../proto/gen/concord/v1/raft';
import { entryFromProto, entryToProto, hardStateFromProto, hardStateToProto, snapshotFromProto, snapshotToProto } from './raftCodec';
import { performance } from 'node:perf_hooks';
import { AppendPlacement } from './AppendPlacement';
import { RaftWal, WalRecord, walSegmentBytes } from './RaftWal';

/** Where an earlier layout kept the entries and hard state in the engine (see earlierLayout). */
const entryPrefix = 'r:e:';
const hardStateKey = 'r:hs';
const snapshotKey = 'r:snap';
/**
 * The snapshot's data, apart from its metadata record (`snapshotKey`), in chunks keyed by the
 * snapshot's index: a large snapshot is then never copied into one encoding, and can be stored
 * a chunk per write ahead of its record (storeSnapshotData), so the log's own writes are not
 * held up behind it. Earlier versions kept the data inside the record; such a record is read.
 */
const chunkPrefix = 'r:snapdata:';
/** Entries of an earlier layout (in the store) deleted per background write once imported. */
const deletesPerWrite = 1000;
/** Bytes of snapshot data per chunk. */
export const snapshotChunkBytes = 4 << 20;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
const entryKey = (index: number): string => `${entryPrefix}${hex(index, 12)}`;

/**
 * The writes that lay entries and a hard state out as versions before the write-ahead file kept
 * them in the engine (what earlierLayout reads and imports): for tests that make such a store.
 */
export function earlierLayoutOps(entries: readonly Entry[], hardState: HardState): WriteOp[] {
  return [
    ...entries.map((e): WriteOp => ({ type: 'put', key: entryKey(e.index), value: RaftEntry.encode(entryToProto(e)).finish() })),
    { type: 'put', key: hardStateKey, value: RaftHardState.encode(hardStateToProto(hardState)).finish() },
  ];
}
const chunkKeyPrefix = (index: number): string => `${chunkPrefix}${hex(index, 12)}:`;
const recordOp = (s: Snapshot): WriteOp => ({
  type: 'put',
  key: snapshotKey,
  value: RaftSnapshot.encode({ ...snapshotToProto({ ...s, data: new Uint8Array(0) }), dataBytes: BigInt(s.data.byteLength) }).finish(),
});

/** The data's chunks as puts (subarrays: nothing is copied here). */
function chunkOps(index: number, data: Uint8Array): WriteOp[] {
  const ops: WriteOp[] = [];
  for (let at = 0, i = 0; at < data.byteLength; at += snapshotChunkBytes, i++) {
    ops.push({ type: 'put', key: `${chunkKeyPrefix(index)}${hex(i, 8)}`, value: data.subarray(at, Math.min(at + snapshotChunkBytes, data.byteLength)) });
  }
  return ops;
}

/** The entries' payload bytes: about the size of their record, without encoding it. */
function entryBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const e of entries) bytes += e.data.byteLength + 16;
  return bytes;
}

/**
 * The Raft log on disk: entries and hard state in a write-ahead file (RaftWal: one O_DSYNC
 * write per persist, on libuv's thread pool or, for a follower on a fast disk, on the loop),
 * snapshots in the storage engine (a record, its data in chunks); a MemoryRaftStorage mirror
 * serves the core's reads. On start the mirror is rebuilt from disk: the snapshot, then the
 * file's records in order. A log of an earlier layout (entries and hard state in the engine) is
 * copied into the file on the first start, then deleted from the engine in the background.
 */
export class DurableRaftStorage implements RaftStorage {
  private readonly mirror: MemoryRaftStorage;
  private readonly wal: RaftWal;

  /** Background deletions (an earlier layout's entries), one after another. */
  private deleting: Promise<void> = Promise.resolve();
  private stopped = false;

  /**
   * `walDir` holds the write-ahead file. `onWriteFailure` hears of a failed background write (a
   * failed write is never retried; the caller should stop); by default the failure is thrown as
   * an unhandled rejection.
   */
  constructor(
    private readonly engine: StorageEngine,
    walDir: string,
    bootstrap: ClusterConfig,
    private readonly onWriteFailure: (err: unknown) => void = (err) => {
      throw err;
    },
    /** Bytes per segment of the write-ahead file (tests use small ones). */
    segmentBytes = walSegmentBytes,
    /** Where an append that may run on the loop goes (see persist). */
    private readonly placement = new AppendPlacement(),
  ) {
    this.mirror = new MemoryRaftStorage(bootstrap);
    const snap = engine.get(snapshotKey);
    if (snap !== undefined) {
      const record = RaftSnapshot.decode(snap);
      const stored = snapshotFromProto(record);
      if (stored.data.byteLength > 0) this.mirror.applySnapshot(stored);
      else {
        const prefix = chunkKeyPrefix(stored.index);
        const data = Buffer.concat([...engine.range({ gte: prefix, lt: `${prefix}\uffff` })].map((c) => c.value));
        // Starting from a partial state would serve wrong data as if it were everything applied.
        if (BigInt(data.byteLength) !== record.dataBytes) {
          throw new Error(`stored snapshot at ${stored.index} is incomplete: its chunks hold ${data.byteLength} of ${record.dataBytes} bytes`);
        }
        this.mirror.applySnapshot({ ...stored, data });
      }
    }
    const opened = RaftWal.open(walDir, segmentBytes);
    this.wal = opened.wal;
    try {
      this.replay(opened.records);
    } catch (err) {
      this.wal.close();
      throw err;
    }
  }

  /** Rebuilds the mirror's entries and hard state from the file's records (after an earlier layout's import). */
  private replay(fromFile: readonly WalRecord[]): void {
    let records = fromFile;
    const earlier = this.earlierLayout();
    if (earlier !== undefined) {
      // Copied while the file is still empty; once it holds anything, the engine's copy is stale.
      if (records.length === 0) {
        this.wal.append(earlier.record);
        records = [earlier.record];
      }
      this.deleteKeys(earlier.keys);
    }
    const snap = this.mirror.snapshot();
    // Entries from the snapshot's index on (the one at its index tells whether the rest belong to it).
    const entries: Entry[] = [];
    let hardState: HardState | undefined;
    for (const r of records) {
      if (r.snapshot !== undefined) entries.length = 0;
      const first = r.entries[0];
      if (first !== undefined && entries.length > 0) {
        // A record's entries replace the replayed ones from their first index on (a new leader's).
        const keep = first.index - (entries[0] as Entry).index;
        if (keep > entries.length) throw new Error(`raft log file skips from entry ${(entries.at(-1) as Entry).index} to ${first.index}`);
        entries.length = Math.max(0, keep);
      }
      for (const e of r.entries) if (e.index >= snap.index) entries.push(e);
      if (r.hardState !== undefined) hardState = r.hardState;
    }
    // A snapshot installed from the leader replaced a log that did not hold its last entry; a crash
    // before the file's mark leaves that log behind the snapshot's record: it is not this history.
    const atSnapshot = entries[0];
    if (snap.index > 0 && atSnapshot?.index === snap.index && atSnapshot.term !== snap.term) entries.length = 0;
    this.mirror.append(entries); // it skips the one at the snapshot's index
    if (hardState !== undefined) {
      // Commit-only changes are not synced, so the stored commit may trail the snapshot, which
      // is committed by definition.
      this.mirror.setHardState({ ...hardState, commit: Math.max(hardState.commit, snap.index) });
    }
  }

  /** The entries and hard state an earlier layout kept in the engine, as one record, and their keys. */
  private earlierLayout(): { record: WalRecord; keys: string[] } | undefined {
    const keys: string[] = [];
    const entries: Entry[] = [];
    for (const { key, value } of this.engine.range({ gte: entryPrefix, lt: `${entryPrefix}\uffff` })) {
      keys.push(key);
      const e = entryFromProto(RaftEntry.decode(value));
      if (e.index >= this.mirror.firstIndex()) entries.push(e);
    }
    const hs = this.engine.get(hardStateKey);
    if (hs !== undefined) keys.push(hardStateKey);
    if (keys.length === 0) return undefined;
    return { record: { entries, ...(hs === undefined ? {} : { hardState: hardStateFromProto(RaftHardState.decode(hs)) }) }, keys };
  }

  initialState(): HardState {
    return this.mirror.initialState();
  }
  entries(lo: number, hi: number, maxSizeBytes: number): EntriesResult {
    return this.mirror.entries(lo, hi, maxSizeBytes);
  }
  term(index: number): TermResult {
    return this.mirror.term(index);
  }
  firstIndex(): number {
    return this.mirror.firstIndex();
  }
  lastIndex(): number {
    return this.mirror.lastIndex();
  }
  snapshot(): Snapshot {
    return this.mirror.snapshot();
  }

  /** Whether `hardState` changes the term or the vote (which must be on disk before any message). */
  changesVote(hardState: HardState | undefined): boolean {
    const prev = this.mirror.initialState();
    return hardState !== undefined && (hardState.term !== prev.term || hardState.vote !== prev.vote);
  }

  /**
   * Persists a Ready's durable parts, then updates the mirror: an installed snapshot's data and
   * record go to the engine first, then one record (its mark, the entries, the hard state) to
   * the write-ahead file, written and synced on libuv's thread pool (the event loop runs
   * meanwhile) before this resolves. With `loop-when-fast` (a follower's entries, a vote), a
   * small record goes on this thread instead while the disk is fast (see AppendPlacement).
   */
  async persist(snapshot: Snapshot | undefined, entries: readonly Entry[], hardState: HardState | undefined, where: 'pool' | 'loop-when-fast' = 'pool'): Promise<void> {
    if (snapshot !== undefined) await this.engine.write([...chunkOps(snapshot.index, snapshot.data), recordOp(snapshot), ...this.otherChunks(snapshot.index)]);
    // etcd's MustSync rule: a hard state that only moved the commit index need not be synced
    // (a restart recomputes commit from the log); term and vote changes always are.
    if (snapshot !== undefined || entries.length > 0 || this.changesVote(hardState)) {
      const record = {
        entries,
        ...(hardState === undefined ? {} : { hardState }),
        ...(snapshot === undefined ? {} : { snapshot: { index: snapshot.index, term: snapshot.term } }),
      };
      const bytes = entryBytes(entries);
      // Only appends of entries small enough for the loop tell the placement about the disk.
      const telling = snapshot === undefined && this.placement.fits(bytes);
      const rollovers = this.wal.rollovers;
      const started = performance.now();
      const onLoop = telling && where === 'loop-when-fast' && this.placement.onLoop(bytes) && this.wal.appendIfFits(record);
      if (!onLoop) await this.wal.appendOffThread(record);
      if (telling && this.wal.rollovers === rollovers) this.placement.took(performance.now() - started);
    }
    if (snapshot !== undefined) {
      this.mirror.applySnapshot(snapshot);
      this.dropThrough(snapshot.index);
    }
    this.mirror.append(entries);
    if (hardState !== undefined) this.mirror.setHardState(hardState);
  }

  /**
   * Stores a snapshot's data ahead of its record, one chunk per write, so other writes (the
   * log's) commit between the chunks instead of after all of them; snapshotAndCompact with
   * `dataStored` then writes only the record. Chunks whose record never follows (a crash, a
   * newer snapshot installed meanwhile, `abandon()` turning true: then false) are deleted with
   * the next snapshot.
   */
  async storeSnapshotData(index: number, data: Uint8Array, abandon: () => boolean = () => false): Promise<boolean> {
    for (const op of chunkOps(index, data)) {
      if (abandon()) return false;
      await this.engine.write([op]);
    }
    return true;
  }

  /**
   * Records the state machine's snapshot at `index` and drops log entries up to `compactTo`
   * (whole segments of the file); `dataStored` when storeSnapshotData already wrote its data.
   */
  async snapshotAndCompact(index: number, config: ClusterConfig, data: Uint8Array, compactTo: number, dataStored = false): Promise<void> {
    if (this.mirror.createSnapshot(index, config, data) !== 'ok') return;
    const ops: WriteOp[] = dataStored ? [] : chunkOps(index, data);
    ops.push(recordOp(this.mirror.snapshot()), ...this.otherChunks(index));
    await this.engine.write(ops);
    const to = Math.min(compactTo, index);
    this.mirror.compact(to);
    this.dropThrough(to);
  }

  /** Drops the file's segments through `index` (deleted in the background; a failure there is a write failure). */
  private dropThrough(index: number): void {
    if (this.stopped || this.wal.dropThrough(index) === 0) return;
    void this.wal.idle().then(() => {
      const failure = this.wal.removeFailure;
      if (failure !== undefined && !this.stopped) this.onWriteFailure(failure);
    });
  }

  /** Deletes `keys` from the engine in the background, `deletesPerWrite` per write. */
  private deleteKeys(keys: readonly string[]): void {
    this.deleting = this.deleting.then(async () => {
      for (let at = 0; at < keys.length && !this.stopped; at += deletesPerWrite) {
        try {
          await this.engine.write(keys.slice(at, at + deletesPerWrite).map((key) => ({ type: 'del', key })));
        } catch (err) {
          if (!this.stopped) this.onWriteFailure(err);
          return;
        }
      }
    });
  }

  /** The write-ahead file's segments, oldest first. */
  get walSegments(): string[] {
    return this.wal.segmentFiles;
  }

  /** Resolves once the background deletions issued so far (keys, and log segment files) are done or given up. */
  async idle(): Promise<void> {
    await Promise.all([this.deleting, this.wal.idle()]);
  }

  /** No more writes: the engine is about to close (a persist after this throws). */
  stop(): void {
    this.stopped = true;
    this.wal.close();
  }

  /** Deletes of every stored snapshot chunk but those of the snapshot at `index`. */
  private otherChunks(index: number): WriteOp[] {
    const keep = chunkKeyPrefix(index);
    const ops: WriteOp[] = [];
    for (const { key } of this.engine.range({ gte: chunkPrefix, lt: `${chunkPrefix}\uffff`, keysOnly: true })) {
      if (!key.startsWith(keep)) ops.push({ type: 'del', key });
    }
    return ops;
  }
}
