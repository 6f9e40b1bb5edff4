import { MemoryEngine } from '../../../services/storage/MemoryEngine';
import { RangeOptions, StorageEngine, StorageEntry, WriteOp } from '../../../services/storage/StorageEngine';
import { Prng } from '../prng';
import { EventQueue } from './EventQueue';

export interface DiskOptions {
  /** A write becomes durable 0..flushTicksMax ticks after it is issued. */
  readonly flushTicksMax: number;
  /** The writer learns of the flush 0..completionTicksMax ticks after it. */
  readonly completionTicksMax: number;
  /**
   * The fault the lost-ack checker must catch: writes resolve at once and reach the durable
   * engine only at the flush, so a crash in between loses writes that were acknowledged.
   */
  readonly acksBeforeDurable: boolean;
}

interface Queued {
  readonly ops: readonly WriteOp[];
  readonly resolve: () => void;
}

/**
 * A StorageEngine with fsync latency and crashes, over a MemoryEngine that holds only what is
 * durable. Writes are flushed in the order they were issued, several at a time (group commit);
 * a crash forgets the unflushed ones and their promises never settle, as in a killed process.
 * Reads see durable data only, which the engine contract allows.
 */
export class SimDisk implements StorageEngine {
  private readonly queued: Queued[] = [];
  private crashed = false;

  constructor(
    readonly durable: MemoryEngine,
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly opts: DiskOptions,
  ) {}

  get(key: string): Uint8Array | undefined {
    return this.durable.get(key);
  }

  range(opts: RangeOptions): Iterable<StorageEntry> {
    return this.durable.range(opts);
  }

  write(ops: readonly WriteOp[]): Promise<void> {
    if (this.crashed) return new Promise<void>(() => undefined);
    return new Promise<void>((resolve) => {
      this.queued.push({ ops, resolve: this.opts.acksBeforeDurable ? noop : resolve });
      if (this.opts.acksBeforeDurable) resolve();
      this.queue.schedule(this.prng.int(this.opts.flushTicksMax + 1), () => this.flush());
    });
  }

  async close(): Promise<void> {
    this.crashed = true;
  }

  /** The process died: unflushed writes are gone. Restart from `durable.snapshot()`. */
  crash(): void {
    this.crashed = true;
    this.queued.length = 0;
  }

  /**
   * Makes every queued write durable now; each caller hears of it a little later (as I/O
   * completions wait their turn in the event loop), so other events can change the documents in
   * between, and a crash in between leaves a durable write unacknowledged.
   */
  private flush(): void {
    if (this.crashed) return;
    for (const q of this.queued.splice(0)) {
      void this.durable.write(q.ops);
      this.queue.schedule(this.prng.int(this.opts.completionTicksMax + 1), () => {
        if (!this.crashed) q.resolve();
      });
    }
  }
}

function noop(): void {}
