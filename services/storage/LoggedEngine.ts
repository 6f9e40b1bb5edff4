import * as fs from 'node:fs';
import BTree from 'sorted-btree';
import { StorageWalRecord } from '../../proto/gen/concord/v1/storage';
import { encodeWalRecord } from './encodeWalRecord';
import { compareKeys, hasHighUnit, RangeOptions, StorageEngine, StorageEntry, WriteOp } from './StorageEngine';
import { createSegmentOffThread, fdatasyncOffThread, listSegments, readSegment, removeSegmentsOffThread, SegmentFile, writeAll, writeAllOffThread } from './walFiles';

/** Bytes a log segment is created with (sparse); a larger record gets a segment of its own size. */
export const loggedSegmentBytes = 16 << 20;
/** Bytes of writes (keys and values) a memtable takes before it is frozen and checkpointed. */
export const memtableBytesMax = 8 << 20;
/** Operations per write of a checkpoint into the base engine (one transaction each, in turns of their own). */
const checkpointOpsPerWrite = 1024;
/**
 * Records up to this size go into the page cache from the event loop's thread (microseconds,
 * unless the kernel throttles writers of dirty pages); larger ones from the thread pool. On a
 * busy disk, dirty-page throttling held the loop for hundreds of milliseconds on records of
 * megabytes; with every record on the thread pool, the convergent LOCAL benchmark lost 6 to 10%
 * of its throughput (medians of five alternated runs).
 */
const loopWriteBytesMax = 64 << 10;
/** Frozen memtables past which a write resolves only once the checkpoints have caught up (backpressure). */
const frozenMax = 4;

const noBytes = new Uint8Array(0);

/**
 * Keys to values; null marks a deletion (the base engine may still hold the key). In the
 * engines' key order (the base's), which JavaScript's `<` is not past U+FFFF: compareKeys. But
 * the two orders differ only between two keys that both hold a unit from U+D800 up, and every
 * comparison the tree makes has one side among its keys. So while none of its keys holds one,
 * `<` is exact, and costs less than compareKeys' scan of both keys for such a unit (which a
 * memtable insert did some fifteen times); the first key that holds one switches the order to
 * compareKeys for good, clones included (they share the comparator).
 */
class Table extends BTree<string, Uint8Array | null> {
  private readonly order: { high: boolean };

  constructor() {
    const order = { high: false };
    super(undefined, (a, b) => (order.high ? compareKeys(a, b) : a < b ? -1 : a > b ? 1 : 0));
    this.order = order;
  }

  override set(key: string, value: Uint8Array | null, overwrite?: boolean): boolean {
    const added = super.set(key, value, overwrite);
    if (!this.order.high && hasHighUnit(key)) this.order.high = true;
    return added;
  }
}


interface Frozen {
  readonly table: Table;
  /** The last write it holds. */
  readonly lastLsn: number;
}

interface Segment extends SegmentFile {
  /** The last write whose record it holds (or, while it holds none, the last before it). */
  lastLsn: number;
}

interface Pending {
  readonly lsn: number;
  readonly ops: readonly WriteOp[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface LoggedEngineOptions {
  readonly segmentBytes?: number;
  readonly memtableBytesMax?: number;
  /** Makes a segment's written bytes durable (default: fdatasync on libuv's thread pool); tests inject failures. */
  readonly sync?: (fd: number) => Promise<void>;
}

/**
 * A storage engine whose writes go to a write-ahead log first and reach the base engine (LMDB)
 * later, many at once: the memtable design of LSM stores (LevelDB, RocksDB), over a B+tree.
 *
 * Why: a document write is a few hundred bytes, and an LMDB commit of a turn's writes to 50
 * documents rewrote every B+tree page on their paths (about 43 pages, 70 MB/s of disk writes
 * for 1 MB/s of updates in the streamed benchmark), synced twice (data, then meta page), on a
 * worker thread that took a quarter of each node's CPU. Here a turn's writes are one framed
 * record appended to a preallocated segment and one fdatasync (group commit: writes issued
 * while a sync runs share the next one); the base engine sees each key once per checkpoint,
 * and a document's updates that compaction deletes within a checkpoint never reach it.
 *
 * - write: the operations go into the active memtable at once (reads see them, as the contract
 *   allows for writes in flight), and resolve when the record that carries them is synced.
 * - Reads look in the active memtable, then the frozen ones (newest first), then the base.
 * - Checkpoint: a memtable past `memtableBytesMax` is frozen; once its writes are synced in the
 *   log, they are written into the base engine (in transactions of a few thousand operations),
 *   and then the segments holding only checkpointed writes are deleted. Never before: replaying
 *   a checkpointed write again is harmless (the log is replayed in order over the base, and
 *   every later write is replayed too), losing a write the base does not hold is not.
 * - Open: every record of every segment is replayed into the base (checkpoint), then the
 *   segments are deleted. A torn last record in the newest segment (a crash during its write; it
 *   was never acknowledged) ends the replay; a bad record followed by data, or one in an older
 *   segment (synced whole before the next began), is corruption, and the engine refuses to open.
 * - Close checkpoints everything and deletes the log, so a stopped node's base holds all.
 */
export class LoggedEngine implements StorageEngine {
  private active: Table = new Table();
  private activeBytes = 0;
  /** Oldest first. */
  private readonly frozen: Frozen[] = [];
  private lsn = 0;
  private durableLsn = 0;
  private checkpointedLsn = 0;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;
  private checkpointing: Promise<void> | undefined;
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;
  private checkpointsDone = 0;
  /** Bytes of the newest segment known synced. */
  private syncedPos = 0;

  private constructor(
    private readonly dir: string,
    private readonly base: StorageEngine,
    private readonly segmentBytes: number,
    private readonly memtableMax: number,
    private readonly sync: (fd: number) => Promise<void>,
    private readonly segments: Segment[],
    private fd: number,
    private pos: number,
    private size: number,
  ) {}

  /**
   * Opens the log in `dir` (creating it when missing) over `base`: replays what a previous run
   * left into the base engine and starts an empty log.
   */
  static async open(dir: string, base: StorageEngine, opts: LoggedEngineOptions = {}): Promise<LoggedEngine> {
    try {
      return await LoggedEngine.replay(dir, base, opts);
    } catch (err) {
      await base.close().catch(() => undefined);
      throw err;
    }
  }

  private static async replay(dir: string, base: StorageEngine, opts: LoggedEngineOptions): Promise<LoggedEngine> {
    const segmentBytes = opts.segmentBytes ?? loggedSegmentBytes;
    fs.mkdirSync(dir, { recursive: true });
    const files = listSegments(dir);
    const table = new Table();
    for (const [i, { file }] of files.entries()) {
      const { records } = readSegment(fs.readFileSync(file), file, 'storage log', i === files.length - 1, (p) => StorageWalRecord.decode(p));
      for (const record of records) for (const op of record.ops) table.set(op.key, op.delete ? null : op.value);
    }
    await writeTable(base, table);
    await removeSegmentsOffThread(dir, files.map((f) => f.file));
    const first = await createSegmentOffThread(dir, (files[files.length - 1]?.seq ?? 0) + 1, segmentBytes);
    return new LoggedEngine(dir, base, segmentBytes, opts.memtableBytesMax ?? memtableBytesMax, opts.sync ?? fdatasyncOffThread, [{ ...first.segment, lastLsn: 0 }], first.fd, 0, segmentBytes);
  }

  /**
   * Reads fail once the engine has: the memtables may hold writes whose sync failed, which a
   * reader must not see (their writers were told they failed; a restart may not have them).
   */
  get(key: string): Uint8Array | undefined {
    if (this.failed !== undefined) throw this.failed;
    let v = this.active.get(key);
    for (let i = this.frozen.length - 1; v === undefined && i >= 0; i--) v = (this.frozen[i] as Frozen).table.get(key);
    if (v === undefined) return this.base.get(key);
    return v ?? undefined;
  }

  /** The memtables are read as they were when the range began (a copy-on-write clone of the active one). */
  *range(opts: RangeOptions): Iterable<StorageEntry> {
    if (this.failed !== undefined) throw this.failed;
    const limit = opts.limit ?? Infinity;
    if (limit <= 0) return;
    const tables = [this.active.clone(), ...[...this.frozen].reverse().map((f) => f.table)];
    // Newest source first: on equal keys the first one's value stands.
    const sources: Iterator<readonly [string, Uint8Array | null]>[] = tables.map((t) => t.entries(opts.gte));
    sources.push(baseEntries(this.base.range({ gte: opts.gte, lt: opts.lt, keysOnly: opts.keysOnly })));
    try {
      const heads = sources.map((s) => nextBelow(s, opts.lt));
      let given = 0;
      for (;;) {
        let min: string | undefined;
        for (const h of heads) if (h !== undefined && (min === undefined || compareKeys(h[0], min) < 0)) min = h[0];
        if (min === undefined) return;
        let value: Uint8Array | null | undefined;
        for (const [i, h] of heads.entries()) {
          if (h === undefined || h[0] !== min) continue;
          if (value === undefined) value = h[1];
          heads[i] = nextBelow(sources[i] as Iterator<readonly [string, Uint8Array | null]>, opts.lt);
        }
        if (value === null || value === undefined) continue;
        yield { key: min, value: opts.keysOnly === true ? noBytes : value };
        if (++given >= limit) return;
      }
    } finally {
      // A range left early (a limit, a caller's break) must end the base's read too: LMDB keeps a
      // reader slot, and the snapshot it reads, until its iterator returns.
      for (const s of sources) s.return?.();
    }
  }

  write(ops: readonly WriteOp[]): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (this.closing !== undefined) return Promise.reject(new Error('the storage engine is closed'));
    const lsn = ++this.lsn;
    // Copies: a value may be a view into a larger buffer (a network message) that must not stay alive.
    const copied = ops.map((op): WriteOp => (op.type === 'put' ? { type: 'put', key: op.key, value: Uint8Array.prototype.slice.call(op.value) } : op));
    for (const op of copied) {
      this.active.set(op.key, op.type === 'put' ? op.value : null);
      this.activeBytes += op.key.length + (op.type === 'put' ? op.value.byteLength : 0);
    }
    const done = new Promise<void>((resolve, reject) => this.pending.push({ lsn, ops: copied, resolve, reject }));
    if (this.activeBytes >= this.memtableMax) this.freeze();
    this.scheduleFlush();
    if (this.frozen.length < frozenMax) return done;
    return done.then(async () => {
      await this.checkpointsBelow(frozenMax);
      if (this.failed !== undefined) throw this.failed;
    });
  }

  /** Resolves once fewer than `n` memtables wait for their checkpoint, or the engine failed. */
  private async checkpointsBelow(n: number): Promise<void> {
    while (this.failed === undefined && this.frozen.length >= n) {
      void this.checkpoint();
      // A checkpoint starts once its memtable's writes are synced: until then, wait for the flush.
      await (this.checkpointing ?? this.flushing ?? new Promise((r) => setImmediate(r)));
    }
  }

  /** Why the engine failed (a sync, a segment, a checkpoint), if it has; it then takes no more reads or writes. */
  get failure(): Error | undefined {
    return this.failed;
  }

  /** Checkpoints finished, segment files on disk (oldest first), frozen memtables, and bytes of the newest segment synced (for tests). */
  get stats(): { checkpoints: number; segmentFiles: string[]; frozen: number; syncedBytes: number } {
    return { checkpoints: this.checkpointsDone, segmentFiles: this.segments.map((s) => s.file), frozen: this.frozen.length, syncedBytes: this.syncedPos };
  }

  /** Syncs what is pending, checkpoints every memtable, deletes the log and closes the base. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    try {
      while (this.failed === undefined && (this.flushing !== undefined || this.pending.length > 0)) await (this.flushing ?? this.flush());
      if (this.failed === undefined) {
        this.freeze();
        await this.checkpointsBelow(1);
      }
      // After a failure too, nothing may still use the file or the base when they close.
      await this.flushing;
      await this.checkpointing;
      if (this.failed === undefined) await removeSegmentsOffThread(this.dir, this.segments.map((s) => s.file));
    } finally {
      fs.closeSync(this.fd);
      await this.base.close();
    }
  }

  private freeze(): void {
    if (this.active.size === 0) return;
    this.frozen.push({ table: this.active, lastLsn: this.lsn });
    this.active = new Table();
    this.activeBytes = 0;
    void this.checkpoint();
  }

  /** The writes of one turn leave together: the flush runs after this turn's I/O callbacks. */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing !== undefined) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** Appends every pending write as one record, syncs it, resolves them; again while more are pending. */
  private flush(): Promise<void> {
    if (this.flushing !== undefined || this.pending.length === 0 || this.failed !== undefined) return this.flushing ?? Promise.resolve();
    const group = this.pending;
    this.pending = [];
    const run = async (): Promise<void> => {
      try {
        // A group of empty writes logs nothing (an empty record would read as the segment's end):
        // every write before it was synced by the flushes before this one.
        if (group.some((p) => p.ops.length > 0)) {
          const frame = encodeWalRecord(group.map((p) => p.ops));
          if (this.pos + frame.byteLength > this.size) await this.rollOver(frame.byteLength);
          if (frame.byteLength <= loopWriteBytesMax) writeAll(this.fd, frame, this.pos);
          else await writeAllOffThread(this.fd, frame, this.pos);
          this.pos += frame.byteLength;
          const end = this.pos;
          await this.sync(this.fd);
          this.syncedPos = end;
        }
      } catch (err) {
        this.fail(err, group);
        return;
      }
      const last = (group[group.length - 1] as Pending).lsn;
      (this.segments[this.segments.length - 1] as Segment).lastLsn = last;
      this.durableLsn = last;
      for (const p of group) p.resolve();
    };
    this.flushing = run().finally(() => {
      this.flushing = undefined;
      void this.checkpoint();
      if (this.pending.length > 0) void this.flush();
    });
    return this.flushing;
  }

  /** Starts a new segment big enough for `recordBytes`; the current one was synced whole by the flush before. */
  private async rollOver(recordBytes: number): Promise<void> {
    const size = Math.max(this.segmentBytes, recordBytes);
    const prev = this.segments[this.segments.length - 1] as Segment;
    const next = await createSegmentOffThread(this.dir, prev.seq + 1, size);
    fs.closeSync(this.fd);
    this.segments.push({ ...next.segment, lastLsn: prev.lastLsn });
    this.fd = next.fd;
    this.pos = 0;
    this.syncedPos = 0;
    this.size = size;
  }

  /** Writes the oldest frozen memtable whose writes are in the log into the base; then the next. */
  private checkpoint(): Promise<void> {
    if (this.checkpointing !== undefined) return this.checkpointing;
    const table = this.frozen[0];
    if (table === undefined || this.failed !== undefined || this.durableLsn < table.lastLsn) return Promise.resolve();
    this.checkpointing = writeTable(this.base, table.table, () => new Promise((r) => setImmediate(r))).then(
      async () => {
        this.frozen.shift();
        this.checkpointedLsn = table.lastLsn;
        this.checkpointsDone++;
        try {
          await this.dropCheckpointedSegments();
        } catch (err) {
          this.fail(err, []);
        }
      },
      (err: unknown) => this.fail(err, []),
    ).finally(() => {
      this.checkpointing = undefined;
      void this.checkpoint();
    });
    return this.checkpointing;
  }

  /** Deletes the oldest segments, never the one being written, while the base holds all their writes. */
  private async dropCheckpointedSegments(): Promise<void> {
    const covered: string[] = [];
    while (this.segments.length > 1 && (this.segments[0] as Segment).lastLsn <= this.checkpointedLsn) covered.push((this.segments.shift() as Segment).file);
    await removeSegmentsOffThread(this.dir, covered);
  }

  /** A failed write or sync is never retried: every write in flight and every later one fails. */
  private fail(err: unknown, group: readonly Pending[]): void {
    this.failed ??= err instanceof Error ? err : new Error(String(err));
    for (const p of [...group, ...this.pending]) p.reject(this.failed);
    this.pending = [];
  }
}

/** Writes a table's entries into `base`, a few thousand per transaction, awaiting `between` before each next one. */
async function writeTable(base: StorageEngine, table: Table, between?: () => Promise<void>): Promise<void> {
  let ops: WriteOp[] = [];
  let first = true;
  const flush = async (): Promise<void> => {
    if (!first && between !== undefined) await between();
    first = false;
    const batch = ops;
    ops = [];
    await base.write(batch);
  };
  for (const [key, value] of table.entries()) {
    ops.push(value === null ? { type: 'del', key } : { type: 'put', key, value });
    if (ops.length >= checkpointOpsPerWrite) await flush();
  }
  if (ops.length > 0) await flush();
}

function* baseEntries(entries: Iterable<StorageEntry>): Iterator<readonly [string, Uint8Array | null]> {
  for (const e of entries) yield [e.key, e.value];
}

function nextBelow(it: Iterator<readonly [string, Uint8Array | null]>, lt: string): readonly [string, Uint8Array | null] | undefined {
  const r = it.next();
  return r.done === true || compareKeys(r.value[0], lt) >= 0 ? undefined : r.value;
}
