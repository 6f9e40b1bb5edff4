import { MemoryEngine } from '../../../services/storage/MemoryEngine';
import { RangeOptions, StorageEngine, StorageEntry, WriteOp } from '../../../services/storage/StorageEngine';

/**
 * An engine for hand-written crash tests: writes become durable one at a time, oldest first,
 * only when the test calls `flushOldest`; a "crash" restarts from `durable.snapshot()`.
 */
export class SteppedDisk implements StorageEngine {
  readonly durable = new MemoryEngine();
  private readonly queued: { ops: readonly WriteOp[]; resolve: () => void }[] = [];

  get(key: string): Uint8Array | undefined {
    return this.durable.get(key);
  }

  range(opts: RangeOptions): Iterable<StorageEntry> {
    return this.durable.range(opts);
  }

  write(ops: readonly WriteOp[]): Promise<void> {
    return new Promise((resolve) => void this.queued.push({ ops, resolve }));
  }

  async close(): Promise<void> {}

  async flushOldest(): Promise<void> {
    const q = this.queued.shift();
    if (q === undefined) throw new Error('nothing to flush');
    await this.durable.write(q.ops);
    q.resolve();
  }
}
