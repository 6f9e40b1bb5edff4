import { compareKeys, RangeOptions, StorageEngine, StorageEntry, WriteOp } from './StorageEngine';

const noBytes = new Uint8Array(0);

/**
 * In-memory engine for simulations and fast tests. `crash()` models a process crash: writes
 * still in flight are lost, resolved ones survive (they were "fsynced").
 */
export class MemoryEngine implements StorageEngine {
  private readonly data = new Map<string, Uint8Array>();
  private closed = false;

  get(key: string): Uint8Array | undefined {
    this.assertOpen();
    return this.data.get(key);
  }

  *range(opts: RangeOptions): Iterable<StorageEntry> {
    this.assertOpen();
    const keys = [...this.data.keys()].filter((k) => compareKeys(k, opts.gte) >= 0 && compareKeys(k, opts.lt) < 0).sort(compareKeys);
    const limit = opts.limit ?? Infinity;
    for (let i = 0; i < keys.length && i < limit; i++) {
      const key = keys[i] as string;
      const value = this.data.get(key);
      if (value !== undefined) yield { key, value: opts.keysOnly === true ? noBytes : value };
    }
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    this.assertOpen();
    for (const op of ops) {
      if (op.type === 'put') this.data.set(op.key, op.value.slice());
      else this.data.delete(op.key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** A copy of the durable contents, to "restart" a node from. */
  snapshot(): MemoryEngine {
    const copy = new MemoryEngine();
    for (const [k, v] of this.data) copy.data.set(k, v.slice());
    return copy;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryEngine is closed');
  }
}
