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
/** Compacted log entries deleted per background write. */
const deletesPerWrite = 1000;
/** Bytes of snapshot data per chunk. */
export const snapshotChunkBytes = 4 << 20;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
const entryKey = (index: number): string => `${entryPrefix}${hex(index, 12)}`;
const chunkKeyPrefix = (index: number): string => `${chunkPrefix}${hex(index, 12)}:`;
const encodeEntry = (e: Entry): Uint8Array => RaftEntry.encode(entryToProto(e)).finish();
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
const encodeHardState = (h: HardState): Uint8Array => RaftHardState.encode(hardStateToProto(h)).finish();

/**
 * The Raft log on disk: every Ready's snapshot, entries and hard state go to the storage engine
 * in one atomic, fsynced batch; a MemoryRaftStorage mirror serves the core's reads. On start
 * the mirror is rebuilt from disk (snapshot, then entries, then hard state).
 */
export class DurableRaftStorage implements RaftStorage {
  private readonly mirror: MemoryRaftStorage;

  /** The lowest index whose entry may still be on disk (entries below a snapshot go in the background). */
  private diskFirst: number;
  /** Background deletions of compacted entries, one after another. */
  private deleting: Promise<void> = Promise.resolve();
  private stopped = false;

  /**
   * `onWriteFailure` hears of a failed background write (a failed write is never retried; the
   * caller should stop); by default the failure is thrown as an unhandled rejection.
   */
  constructor(
    private readonly engine: StorageEngine,
    bootstrap: ClusterConfig,
    private readonly onWriteFailure: (err: unknown) => void = (err) => {
      throw err;
    },
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
    const entries: Entry[] = [];
    const first = this.mirror.firstIndex();
    this.diskFirst = first;
    for (const { key, value } of engine.range({ gte: entryPrefix, lt: `${entryPrefix}\uffff` })) {
      const index = parseInt(key.slice(entryPrefix.length), 16);
      // Entries a snapshot covers whose deletion a stop cut short: deleted with the next compaction.
      if (index < first) this.diskFirst = Math.min(this.diskFirst, index);
      else entries.push(entryFromProto(RaftEntry.decode(value)));
    }
    this.mirror.append(entries);
    const hs = engine.get(hardStateKey);
    if (hs !== undefined) {
      // Commit-only changes are not synced, so the stored commit may trail the snapshot, which
      // is committed by definition.
      const stored = hardStateFromProto(RaftHardState.decode(hs));
      this.mirror.setHardState({ ...stored, commit: Math.max(stored.commit, this.mirror.snapshot().index) });
    }
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

  /** Persists a Ready's durable parts (fsync), then updates the mirror. */
  async persist(snapshot: Snapshot | undefined, entries: readonly Entry[], hardState: HardState | undefined): Promise<void> {
    const ops: WriteOp[] = [];
    if (snapshot !== undefined) {
      ops.push(...chunkOps(snapshot.index, snapshot.data), recordOp(snapshot), ...this.otherChunks(snapshot.index));
      // From the lowest entry still on disk, so background deletions need not walk this range again.
      for (let i = this.diskFirst; i <= Math.min(this.mirror.lastIndex(), snapshot.index); i++) ops.push({ type: 'del', key: entryKey(i) });
    }
    const firstNew = entries[0];
    if (firstNew !== undefined) {
      const lastNew = firstNew.index + entries.length - 1;
      // A leader may replace an uncommitted tail: drop stored entries past the new last one.
      for (let i = lastNew + 1; i <= this.mirror.lastIndex(); i++) ops.push({ type: 'del', key: entryKey(i) });
      for (const e of entries) ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
    }
    // etcd's MustSync rule: a hard state that only moved the commit index need not be synced
    // (a restart recomputes commit from the log); term and vote changes always are.
    const mustSync = ops.length > 0 || this.changesVote(hardState);
    if (hardState !== undefined && mustSync) ops.push({ type: 'put', key: hardStateKey, value: encodeHardState(hardState) });
    if (ops.length > 0) await this.engine.write(ops);
    if (snapshot !== undefined) {
      this.mirror.applySnapshot(snapshot);
      this.diskFirst = Math.max(this.diskFirst, snapshot.index + 1);
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
   * Records the state machine's snapshot at `index` and drops log entries up to `compactTo`;
   * `dataStored` when storeSnapshotData already wrote its data.
   */
  async snapshotAndCompact(index: number, config: ClusterConfig, data: Uint8Array, compactTo: number, dataStored = false): Promise<void> {
    if (this.mirror.createSnapshot(index, config, data) !== 'ok') return;
    const ops: WriteOp[] = dataStored ? [] : chunkOps(index, data);
    ops.push(recordOp(this.mirror.snapshot()), ...this.otherChunks(index));
    await this.engine.write(ops);
    const to = Math.min(compactTo, index);
    this.mirror.compact(to);
    this.dropEntriesThrough(to);
  }

  /**
   * Deletes the stored entries up to `to` in the background, `deletesPerWrite` per write: the
   * snapshot's record already covers them (a restart skips them), and 10,000 deletes in the
   * record's batch held the event loop for 120 ms.
   */
  private dropEntriesThrough(to: number): void {
    this.deleting = this.deleting.then(async () => {
      while (this.diskFirst <= to && !this.stopped) {
        const hi = Math.min(this.diskFirst + deletesPerWrite - 1, to);
        const ops: WriteOp[] = [];
        for (let i = this.diskFirst; i <= hi; i++) ops.push({ type: 'del', key: entryKey(i) });
        try {
          await this.engine.write(ops);
        } catch (err) {
          if (!this.stopped) this.onWriteFailure(err);
          return;
        }
        this.diskFirst = Math.max(this.diskFirst, hi + 1);
      }
    });
  }

  /** Resolves once the background deletions issued so far are done (or given up on a stop). */
  idle(): Promise<void> {
    return this.deleting;
  }

  /** No more background writes: the engine is about to close. */
  stop(): void {
    this.stopped = true;
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
