import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';

/**
 * The file format both write-ahead logs share (the authoritative log's RaftWal and the
 * documents' LoggedEngine): numbered segment files `<seq as 16 hex digits>.wal`, created at a
 * fixed size (sparse) and filled with records, each its payload's length and CRC-32 (both u32,
 * little endian) and then the payload. A zero length ends a segment's records.
 */
export const walHeaderBytes = 8;

/** fdatasync on libuv's thread pool: the event loop runs while the disk syncs. */
export const fdatasyncOffThread = promisify(fs.fdatasync);
const segmentName = /^([0-9a-f]{16})\.wal$/;

export interface SegmentFile {
  readonly seq: number;
  readonly file: string;
}

/** A payload framed as a record; never empty (a zero length ends a segment). */
export function frameRecord(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(walHeaderBytes + payload.byteLength);
  buf.set(payload, walHeaderBytes);
  return writeRecordHeader(buf);
}

/** Fills in the header of a record whose payload was written after it (from walHeaderBytes to the end); returns `record`. */
export function writeRecordHeader(record: Buffer): Buffer {
  const len = record.byteLength - walHeaderBytes;
  if (len <= 0) throw new Error('a write-ahead log record may not be empty');
  record.writeUInt32LE(len, 0);
  record.writeUInt32LE(crc32(record.subarray(walHeaderBytes)), 4);
  return record;
}

/** The segment files in `dir`, oldest first. */
export function listSegments(dir: string): SegmentFile[] {
  return fs.readdirSync(dir).filter((n) => segmentName.test(n)).sort()
    .map((name) => ({ seq: parseInt(segmentName.exec(name)?.[1] ?? '0', 16), file: path.join(dir, name) }));
}

/**
 * The records of one segment, decoded from copies of their payloads (so none keeps the
 * segment's buffer alive), up to the first zero length or the end of the file, and where they
 * end. A record that does not hold (length past the end, checksum) is torn when nothing but
 * zeros follows the bytes it claims: the last write, cut short by a crash before its sync
 * returned, which may only be in the `newest` segment (every older one was synced whole before
 * the next began). Anything else is corruption of a synced record, and so is a record whose
 * checksum holds but does not decode. `what` names the log in errors.
 */
export function readSegment<T>(bytes: Buffer, file: string, what: string, newest: boolean, decode: (payload: Uint8Array) => T): { records: T[]; end: number } {
  const records: T[] = [];
  let at = 0;
  while (at + walHeaderBytes <= bytes.byteLength) {
    const len = bytes.readUInt32LE(at);
    // A zero length: the end (no record is empty), or a last write whose first bytes never reached the disk.
    if (len === 0) break;
    const payload = bytes.subarray(at + walHeaderBytes, at + walHeaderBytes + len);
    if (payload.byteLength !== len || crc32(payload) !== bytes.readUInt32LE(at + 4)) {
      if (!allZero(bytes.subarray(at + walHeaderBytes + len))) throw new Error(`${what} segment ${file} is corrupt at byte ${at}: a record that does not hold is followed by data`);
      if (!newest) throw new Error(`${what} segment ${file} is corrupt at byte ${at} (a segment before the newest was synced whole)`);
      break;
    }
    try {
      records.push(decode(new Uint8Array(payload)));
    } catch (err) {
      throw new Error(`${what} segment ${file} is corrupt at byte ${at}: its checksum holds but it does not decode (${String(err)})`);
    }
    at += walHeaderBytes + len;
  }
  return { records, end: at };
}

export function allZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

/** Segment `seq`'s file in `dir` (see segmentName). */
function segmentPath(dir: string, seq: number): string {
  return path.join(dir, `${seq.toString(16).padStart(16, '0')}.wal`);
}

/** Creates segment `seq` of `size` bytes (sparse) holding `head`, durable with its directory entry. */
export function createSegment(dir: string, seq: number, size: number, head: Uint8Array = new Uint8Array(0), dsync = false): { segment: SegmentFile; fd: number } {
  const file = segmentPath(dir, seq);
  const fd = fs.openSync(file, newSegmentFlags(dsync));
  try {
    fs.ftruncateSync(fd, size);
    if (head.byteLength > 0) writeAll(fd, head, 0);
    fs.fsyncSync(fd);
    syncDir(dir);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return { segment: { seq, file }, fd };
}

/**
 * Flags for a new segment: created, never over an existing one, read and write; with `dsync`
 * every write is durable when it returns (O_DSYNC: the write and its fdatasync in one call, so
 * one trip to the thread pool instead of two).
 */
function newSegmentFlags(dsync: boolean): number {
  const c = fs.constants;
  return c.O_CREAT | c.O_EXCL | c.O_RDWR | (dsync ? oDsync() : 0);
}

/** Opens an existing segment to write on, O_DSYNC as newSegmentFlags. */
export function openSegmentDsync(file: string): number {
  return fs.openSync(file, fs.constants.O_RDWR | oDsync());
}

/** The platform's O_DSYNC; a log must not silently lose its durability where there is none. */
function oDsync(): number {
  const flag = fs.constants.O_DSYNC;
  if (flag === undefined) throw new Error(`this platform (${process.platform}) has no O_DSYNC, which the Raft log needs to make each write durable`);
  return flag;
}

/** Makes the directory's entries (created or deleted files) durable. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeAll(fd: number, buf: Uint8Array, position: number): void {
  for (let off = 0; off < buf.byteLength;) off += fs.writeSync(fd, buf, off, buf.byteLength - off, position + off);
}

/*
 * The same steps on libuv's thread pool, for logs in use: on a busy disk a write of megabytes
 * into the page cache (dirty-page throttling), an unlink or a directory sync held a node's event
 * loop for hundreds of milliseconds, and with it every call and every heartbeat it should have
 * answered. The synchronous ones above serve opening a log (before the node serves anything)
 * and small writes: records into the page cache, and a follower's small Raft log appends while
 * its disk is fast (see AppendPlacement).
 */
const openFile = promisify(fs.open);
const ftruncate = promisify(fs.ftruncate);
const fsyncFile = promisify(fs.fsync);
const closeFile = promisify(fs.close);
const writeFile = promisify(fs.write);

/** createSegment on the thread pool. */
export async function createSegmentOffThread(dir: string, seq: number, size: number, head: Uint8Array = new Uint8Array(0), dsync = false): Promise<{ segment: SegmentFile; fd: number }> {
  const file = segmentPath(dir, seq);
  const fd = await openFile(file, newSegmentFlags(dsync));
  try {
    await ftruncate(fd, size);
    if (head.byteLength > 0) await writeAllOffThread(fd, head, 0);
    await fsyncFile(fd);
    await syncDirOffThread(dir);
  } catch (err) {
    await closeFile(fd).catch(() => undefined);
    throw err;
  }
  return { segment: { seq, file }, fd };
}

/** syncDir on the thread pool. */
export async function syncDirOffThread(dir: string): Promise<void> {
  const fd = await openFile(dir, 'r');
  try {
    await fsyncFile(fd);
  } finally {
    await closeFile(fd);
  }
}

/** writeAll on the thread pool. */
export async function writeAllOffThread(fd: number, buf: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < buf.byteLength;) off += (await writeFile(fd, buf, off, buf.byteLength - off, position + off)).bytesWritten;
}

/**
 * Deletes segment files oldest first, each durably (the directory synced) before the next, so
 * a crash midway leaves the newest ones: an older segment surviving a newer one's deletion
 * would be replayed over what the newer one's deletion already took for granted.
 */
export async function removeSegmentsOffThread(dir: string, files: readonly string[]): Promise<void> {
  for (const file of files) {
    await fs.promises.rm(file, { force: true });
    await syncDirOffThread(dir);
  }
}
