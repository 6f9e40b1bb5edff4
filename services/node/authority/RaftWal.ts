import * as fs from 'node:fs';
import { Entry, HardState } from '../../core/consensus';
import { RaftWalRecord } from '../../../proto/gen/concord/v1/raft';
import { allZero, createSegment, createSegmentOffThread, frameRecord, listSegments, openSegmentDsync, readSegment, removeSegmentsOffThread, SegmentFile, writeAll, writeAllOffThread } from '../../storage/walFiles';
import { entryFromProto, entryToProto, hardStateFromProto, hardStateToProto } from './raftCodec';
import { encodeReusing } from '../../core/encodeReusing';

/** What one persist made durable (see RaftWalRecord in raft.proto). */
export interface WalRecord {
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
  /** An installed snapshot: every entry replayed before this record is dropped. */
  readonly snapshot?: { readonly index: number; readonly term: number };
}

/** Bytes a segment file is created with (sparse); a larger record gets a segment of its own size. */
export const walSegmentBytes = 16 << 20;

interface Segment extends SegmentFile {
  /** The highest entry index it holds (0: none). */
  maxIndex: number;
}

/**
 * The authoritative log's write-ahead file: records appended to preallocated segment files and
 * durable when written: segments are opened O_DSYNC, so a record's write and its fdatasync are
 * one call. On the calling thread while the log opens (append); once the node runs, on libuv's
 * thread pool (appendOffThread, one trip there per record), so that neither a leader's appends
 * to its followers nor anything else the node answers waits for its disk; or, for a small
 * record that fits the current segment, on the calling thread (appendIfFits: a follower's
 * append while its disk is fast, see AppendPlacement). An
 * LMDB commit of the same entries took two syncs (data, then the meta page) and a hop to a
 * worker thread and back: about 300 µs of CPU on other threads per write on every voter, and a
 * sequential put waited for it on the leader and on a follower.
 *
 * A crash can leave the last record torn: in the newest segment, replay stops at a record whose
 * length or checksum does not hold when only zeros follow it (it was never acknowledged: its
 * persist had not returned) and zeroes the rest. A bad record followed by data, or one in an
 * older segment (synced whole before the next began), is corruption: the file refuses to open
 * rather than drop acknowledged records. Each segment begins with the latest hard state (written
 * again on open when a crash left a new segment without it), so whole segments whose entries a
 * snapshot covers can be deleted (dropThrough) without losing it.
 */
export class RaftWal {
  private fd: number;
  private pos: number;
  private size: number;
  private closed = false;
  /** The append in flight (appendOffThread: its new segment and its durable write), which close() waits for. */
  private syncing: Promise<void> | undefined;
  /** Deletions of dropped segment files, one after another. */
  private removing: Promise<void> = Promise.resolve();
  private failedRemoval: Error | undefined;
  private lastHardState: HardState | undefined;
  private rolled = 0;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly segments: Segment[],
    current: { readonly fd: number; readonly pos: number; readonly size: number },
    lastHardState: HardState | undefined,
  ) {
    this.fd = current.fd;
    this.pos = current.pos;
    this.size = current.size;
    this.lastHardState = lastHardState;
  }

  /** Opens (creating it when missing) the log in `dir`; returns it with every record, oldest first. */
  static open(dir: string, segmentBytes = walSegmentBytes): { wal: RaftWal; records: WalRecord[] } {
    fs.mkdirSync(dir, { recursive: true });
    const files = listSegments(dir);
    const records: WalRecord[] = [];
    const segments: Segment[] = [];
    let current: { fd: number; pos: number; size: number; hardState: boolean } | undefined;
    for (const [i, { seq, file }] of files.entries()) {
      const bytes = fs.readFileSync(file);
      const last = i === files.length - 1;
      const { records: read, end } = readSegment(bytes, file, 'raft log', last, decodeRecord);
      const seg: Segment = { seq, file, maxIndex: 0 };
      for (const r of read) for (const e of r.entries) seg.maxIndex = Math.max(seg.maxIndex, e.index);
      records.push(...read);
      segments.push(seg);
      if (last) {
        const fd = openSegmentDsync(file);
        try {
          // Past the end only zeros may stay: a torn record was never acknowledged, and bytes of one
          // whose length never reached the disk would be read as part of the next record written.
          if (!allZero(bytes.subarray(end))) writeAll(fd, Buffer.alloc(bytes.byteLength - end), end);
          // What is read back may sit in the page cache only (a crashed process's last writes,
          // which reached the kernel): on disk before anything is built on it. An O_DSYNC write
          // syncs its own bytes only.
          fs.fdatasyncSync(fd);
        } catch (err) {
          fs.closeSync(fd);
          throw err;
        }
        current = { fd, pos: end, size: bytes.byteLength, hardState: read.some((r) => r.hardState !== undefined) };
      }
    }
    let lastHardState: HardState | undefined;
    for (const r of records) if (r.hardState !== undefined) lastHardState = r.hardState;
    if (current === undefined) {
      const seg = createSegment(dir, 1, segmentBytes, undefined, true);
      segments.push({ ...seg.segment, maxIndex: 0 });
      current = { fd: seg.fd, pos: 0, size: segmentBytes, hardState: false };
    }
    const wal = new RaftWal(dir, segmentBytes, segments, current, lastHardState);
    // A crash while a segment began can leave it without the hard state it should begin with; the
    // segments before it, which hold that state, may be deleted later: write it there now.
    if (lastHardState !== undefined && !current.hardState) {
      try {
        wal.append({ entries: [], hardState: lastHardState });
      } catch (err) {
        wal.close();
        throw err;
      }
    }
    return { wal, records };
  }

  /** Appends one record, durable when this returns (O_DSYNC). Throws when the write fails (never retried). */
  append(record: WalRecord): void {
    const bytes = this.write(record, true) as number;
    this.synced(record, bytes);
  }

  /**
   * Appends one record on libuv's thread pool (a new segment too): durable when the promise
   * resolves (O_DSYNC). The event loop runs meanwhile, so a leader's appends reach its
   * followers while its own disk syncs, and a node on a busy disk goes on answering calls and
   * heartbeats; `append` would hold the loop for the write and the sync. One append at a time
   * (the ready loop is serial); close() waits for the append in flight.
   */
  async appendOffThread(record: WalRecord): Promise<void> {
    const buf = this.encodeNext(record);
    const writing = (async (): Promise<void> => {
      if (this.pos + buf.byteLength > this.size) {
        const next = this.nextSegment(buf.byteLength);
        this.useSegment(await createSegmentOffThread(this.dir, next.seq, next.size, next.head, true), next);
      }
      await writeAllOffThread(this.fd, buf, this.pos);
    })();
    this.syncing = writing;
    try {
      await writing;
    } finally {
      this.syncing = undefined;
    }
    this.synced(record, buf.byteLength);
  }

  /**
   * Appends one record on this thread, durable when this returns true (O_DSYNC), if it fits the
   * current segment (a new segment is a file to create and sync: appendOffThread's job). False:
   * nothing was written.
   */
  appendIfFits(record: WalRecord): boolean {
    const bytes = this.write(record, false);
    if (bytes === undefined) return false;
    this.synced(record, bytes);
    return true;
  }

  /**
   * Writes a record past the last synced one; returns its length. When it does not fit the
   * segment: a new segment with `rollOver`, else nothing is written (undefined).
   */
  private write(record: WalRecord, rollOver: boolean): number | undefined {
    const buf = this.encodeNext(record);
    if (this.pos + buf.byteLength > this.size) {
      if (!rollOver) return undefined;
      const next = this.nextSegment(buf.byteLength);
      this.useSegment(createSegment(this.dir, next.seq, next.size, next.head, true), next);
    }
    writeAll(this.fd, buf, this.pos);
    return buf.byteLength;
  }

  /** The record's bytes, once the file can take it. */
  private encodeNext(record: WalRecord): Buffer {
    if (this.closed) throw new Error('the raft log file is closed');
    if (this.syncing !== undefined) throw new Error('an append is still syncing');
    if (this.failedRemoval !== undefined) throw this.failedRemoval;
    return encodeRecord(record);
  }

  private synced(record: WalRecord, bytes: number): void {
    this.pos += bytes;
    const seg = this.segments[this.segments.length - 1] as Segment;
    for (const e of record.entries) seg.maxIndex = Math.max(seg.maxIndex, e.index);
    if (record.hardState !== undefined) this.lastHardState = record.hardState;
  }

  /**
   * Deletes the oldest segments, never the one being written, while every entry of each is at
   * or below `index` (a snapshot covers them). Oldest first, so a crash midway leaves a suffix.
   */
  dropThrough(index: number): number {
    const covered: string[] = [];
    while (this.segments.length > 1 && (this.segments[0] as Segment).maxIndex <= index) covered.push((this.segments.shift() as Segment).file);
    // The files go on the thread pool, in order after any deletion still running (see
    // removeSegmentsOffThread). After a failed one, none goes (a newer segment deleted while an
    // older one stays would break that order) and every append fails.
    if (covered.length > 0) {
      this.removing = this.removing.then(async () => {
        if (this.failedRemoval === undefined) await removeSegmentsOffThread(this.dir, covered);
      }).catch((err: unknown) => {
        this.failedRemoval ??= err instanceof Error ? err : new Error(String(err));
      });
    }
    return covered.length;
  }

  /** Resolves once the segment files dropped so far are deleted (or their deletion failed). */
  idle(): Promise<void> {
    return this.removing;
  }

  /** Why deleting a dropped segment file failed, if it did (the log then takes no more appends). */
  get removeFailure(): Error | undefined {
    return this.failedRemoval;
  }

  /** Segments begun since the log opened (each a new file created and synced). */
  get rollovers(): number {
    return this.rolled;
  }

  /** Segment files on disk, oldest first (for tests and status). */
  get segmentFiles(): string[] {
    return this.segments.map((s) => s.file);
  }

  /** Closes the file; after a sync in flight (appendOffThread) ends, never under it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.syncing === undefined) fs.closeSync(this.fd);
    // The file of the append in flight, read once it ends (a new segment may have replaced it).
    else void this.syncing.catch(() => undefined).then(() => fs.closeSync(this.fd)).catch(() => undefined);
  }

  /** The next segment: its number, and a size and head big enough for `recordBytes` more, beginning with the latest hard state. */
  private nextSegment(recordBytes: number): { seq: number; head: Uint8Array; size: number } {
    const head = this.lastHardState === undefined ? new Uint8Array(0) : encodeRecord({ entries: [], hardState: this.lastHardState });
    const seq = (this.segments[this.segments.length - 1] as Segment).seq + 1;
    return { seq, head, size: Math.max(this.segmentBytes, head.byteLength + recordBytes) };
  }

  /** Writes go to `next`, created with the head and size nextSegment gave, from now on. */
  private useSegment(next: { segment: SegmentFile; fd: number }, { head, size }: { head: Uint8Array; size: number }): void {
    fs.closeSync(this.fd);
    this.rolled++;
    this.segments.push({ ...next.segment, maxIndex: 0 });
    this.fd = next.fd;
    this.pos = head.byteLength;
    this.size = size;
  }
}

/** A record as written: framed (length, CRC-32) protobuf. */
function encodeRecord(record: WalRecord): Buffer {
  return frameRecord(encodeReusing(RaftWalRecord.encode, {
    entries: record.entries.map(entryToProto),
    hardState: record.hardState === undefined ? undefined : hardStateToProto(record.hardState),
    snapshotIndex: BigInt(record.snapshot?.index ?? 0),
    snapshotTerm: BigInt(record.snapshot?.term ?? 0),
  }));
}

/** A record's payload as read back (see readSegment). */
function decodeRecord(payload: Uint8Array): WalRecord {
  const rec = RaftWalRecord.decode(payload);
  return {
    entries: rec.entries.map(entryFromProto),
    ...(rec.hardState === undefined ? {} : { hardState: hardStateFromProto(rec.hardState) }),
    ...(rec.snapshotIndex === 0n ? {} : { snapshot: { index: Number(rec.snapshotIndex), term: Number(rec.snapshotTerm) } }),
  };
}
