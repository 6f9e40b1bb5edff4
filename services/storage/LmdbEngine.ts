import { open, RootDatabase } from 'lmdb';
import { RangeOptions, StorageEngine, StorageEntry, WriteOp } from './StorageEngine';

const noBytes = new Uint8Array(0);

/**
 * The embedded engine: LMDB through lmdb-js. Why LMDB: a crash-safe B+tree (copy-on-write, no
 * recovery step), synchronous reads from a memory map, and asynchronous writes that lmdb-js
 * batches into one transaction per event turn: group commit for free. `overlappingSync` is off
 * so a write's promise resolves only after its transaction is fsynced.
 */
export class LmdbEngine implements StorageEngine {
  private readonly db: RootDatabase<Buffer, string>;

  private constructor(db: RootDatabase<Buffer, string>) {
    this.db = db;
  }

  static open(path: string): LmdbEngine {
    const db = open<Buffer, string>({
      path,
      encoding: 'binary',
      keyEncoding: 'ordered-binary',
      overlappingSync: false,
      noSync: false,
      compression: false,
      mapSize: 2 ** 34,
    });
    return new LmdbEngine(db);
  }

  get(key: string): Uint8Array | undefined {
    const v = this.db.get(key);
    return v === undefined ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  *range(opts: RangeOptions): Iterable<StorageEntry> {
    if (opts.keysOnly === true) {
      for (const key of this.db.getKeys({ start: opts.gte, end: opts.lt, limit: opts.limit })) yield { key, value: noBytes };
      return;
    }
    const it = this.db.getRange({ start: opts.gte, end: opts.lt, limit: opts.limit });
    for (const { key, value } of it) {
      // lmdb-js reuses its read buffer between entries: copy before handing the bytes out.
      yield { key, value: Uint8Array.prototype.slice.call(value) };
    }
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    const ok = await this.db.batch(() => {
      for (const op of ops) {
        if (op.type === 'put') void this.db.put(op.key, Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength));
        else void this.db.remove(op.key);
      }
    });
    if (ok === false) throw new Error('LMDB batch was not committed');
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
