import { createHash, randomBytes, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { pipeline as pipeStreams } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';

// A backup file: gzip'd JSON lines. A header, then one line per document (its whole Yjs state,
// base64) and per KV key (value base64, with the lease it was attached to), then a trailer
// with the counts and the SHA-256 of every line before it. A file cut short has no trailer, a
// damaged one fails its hash: either is refused whole before anything is restored.

export const backupFormat = 'concord-backup/1';

export interface BackupHeader {
  readonly format: typeof backupFormat;
  readonly createdAt: string;
  /** The KV store's revision the keys were read at (one consistent view). */
  readonly kvRevision: string;
}

export type BackupEntry =
  | { readonly type: 'document'; readonly id: string; readonly update: Uint8Array }
  | { readonly type: 'kv'; readonly key: string; readonly value: Uint8Array; readonly lease: string };

export interface BackupSummary {
  readonly header: BackupHeader;
  readonly documents: number;
  readonly keys: number;
}

/**
 * Writes a backup to a temporary file beside `file` (`<file>.<random>.partial`, created
 * exclusively, so two backups to one name do not mix), synced and renamed to `file` by `finish`
 * only: an interrupted backup never looks whole. A write error (a full disk) fails the next
 * call, and `finish`.
 */
export class BackupWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly gzip = zlib.createGzip();
  private readonly out: fs.WriteStream;
  private readonly partial: string;
  /** Settles when the file is written and closed; rejects on the first error of either stream. */
  private readonly written: Promise<void>;
  private failure: Error | undefined;
  private documents = 0;
  private keys = 0;

  constructor(private readonly file: string, header: Omit<BackupHeader, 'format'>) {
    this.partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    // Opened now, so a missing directory or a refused file fails here, and abandon() finds it.
    this.out = fs.createWriteStream('', { fd: fs.openSync(this.partial, 'wx') });
    this.written = pipeline(this.gzip, this.out);
    this.written.catch((err: unknown) => {
      this.failure ??= err as Error;
    });
    this.line({ format: backupFormat, ...header }).catch(() => undefined); // a failure shows on the next call
  }

  async document(id: string, update: Uint8Array): Promise<void> {
    this.documents++;
    await this.line({ doc: id, update: Buffer.from(update).toString('base64') });
  }

  async kv(key: string, value: Uint8Array, lease: string): Promise<void> {
    this.keys++;
    await this.line({ kv: key, value: Buffer.from(value).toString('base64'), lease });
  }

  /** Writes the trailer, syncs and closes the file and gives it its name. */
  async finish(): Promise<{ documents: number; keys: number }> {
    this.check();
    const counts = { documents: this.documents, keys: this.keys };
    this.gzip.end(`${JSON.stringify({ end: true, ...counts, sha256: this.hash.digest('hex') })}\n`);
    await this.written;
    const fd = fs.openSync(this.partial, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(this.partial, this.file);
    syncDirectory(path.dirname(this.file));
    return counts;
  }

  /** Stops without a backup: the temporary file goes. */
  async abandon(): Promise<void> {
    this.failure ??= new Error('the backup was abandoned');
    this.gzip.destroy();
    this.out.destroy();
    await this.written.catch(() => undefined);
    fs.rmSync(this.partial, { force: true });
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async line(obj: unknown): Promise<void> {
    this.check();
    const text = `${JSON.stringify(obj)}\n`;
    this.hash.update(text);
    if (!this.gzip.write(text)) {
      // Waits for room, or for the failure that means there will be none.
      await Promise.race([once(this.gzip, 'drain'), this.written.then(() => undefined)]);
      this.check();
    }
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems refuse to sync a directory; the rename stands all the same.
  }
}

/** A backup file that cannot be restored: cut short, damaged, or not a backup. */
export class BadBackupError extends Error {
  override name = 'BadBackupError';
}

/** Wraps what `onEntry` threw, so it is not taken for a fault of the file. */
class EntryFailed extends Error {
  constructor(readonly error: unknown) {
    super('a backup entry was not taken');
  }
}

/**
 * Reads a backup, checking each line and, at the end, the counts and hash; calls `onEntry`
 * for each entry as it goes (so a caller that must not act on a bad file reads it twice: once
 * to verify, then to restore, from the same open file `fd`, read from its start). Resolves
 * with the header and counts. A fault of the file is a BadBackupError; what `onEntry` throws
 * comes out as it is.
 */
export async function readBackup(file: string, onEntry: (e: BackupEntry) => Promise<void> | void = () => undefined, fd?: number): Promise<BackupSummary> {
  const input = zlib.createGunzip();
  // pipeline passes a read error (a missing file) on to the gunzip stream, and so to the lines.
  const source = fd === undefined ? fs.createReadStream(file) : fs.createReadStream('', { fd, start: 0, autoClose: false });
  pipeStreams(source, input, () => undefined);
  const entry = async (e: BackupEntry): Promise<void> => {
    try {
      await onEntry(e);
    } catch (err) {
      throw new EntryFailed(err);
    }
  };
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  const hash = createHash('sha256');
  let header: BackupHeader | undefined;
  const counts = { documents: 0, keys: 0 };
  let trailer: { documents: number; keys: number; sha256: string } | undefined;
  let n = 0;
  const bad = (why: string): never => {
    throw new BadBackupError(`${file} is not a usable Concord backup: ${why}`);
  };
  try {
    for await (const text of lines) {
      n++;
      if (trailer !== undefined) bad(`line ${n} follows the trailer`);
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return bad(`line ${n} is not JSON`);
      }
      if (n === 1) {
        if (obj.format !== backupFormat) bad(`its header names format ${JSON.stringify(obj.format)}, not ${backupFormat}`);
        header = { format: backupFormat, createdAt: String(obj.createdAt), kvRevision: String(obj.kvRevision) };
      } else if (obj.end === true) {
        trailer = { documents: Number(obj.documents), keys: Number(obj.keys), sha256: String(obj.sha256) };
        continue;
      } else if (typeof obj.doc === 'string' && typeof obj.update === 'string') {
        counts.documents++;
        await entry({ type: 'document', id: obj.doc, update: Buffer.from(obj.update, 'base64') });
      } else if (typeof obj.kv === 'string' && typeof obj.value === 'string') {
        counts.keys++;
        await entry({ type: 'kv', key: obj.kv, value: Buffer.from(obj.value, 'base64'), lease: String(obj.lease ?? '0') });
      } else {
        bad(`line ${n} is neither a document nor a key`);
      }
      hash.update(`${text}\n`);
    }
  } catch (err) {
    if (err instanceof EntryFailed) throw err.error;
    if (err instanceof BadBackupError) throw err;
    return bad(`it cannot be read (${(err as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
  }
  if (header === undefined) return bad('it is empty');
  if (trailer === undefined) return bad('it has no trailer (cut short: the backup did not finish, or the file was truncated)');
  if (trailer.documents !== counts.documents || trailer.keys !== counts.keys) {
    bad(`its trailer counts ${trailer.documents} documents and ${trailer.keys} keys, the file holds ${counts.documents} and ${counts.keys}`);
  }
  if (trailer.sha256 !== hash.digest('hex')) bad('its content does not match the hash in its trailer (damaged)');
  return { header, ...counts };
}
