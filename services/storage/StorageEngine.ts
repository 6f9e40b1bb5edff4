/**
 * The port every storage engine implements. Keys are strings ordered by UTF-16 code units
 * (callers keep keys ASCII-prefixed so this equals byte order); values are bytes.
 *
 * Contract (checked for every implementation by test/contracts/storageEngine.contract.ts):
 * - `write` is atomic: after a crash either every operation of the batch is visible or none.
 * - `write` is durable: when its promise resolves the batch is on disk (fsync). Concurrent
 *   writes may be committed together (group commit), each promise resolving once its batch is.
 * - Writes commit in the order they were issued: when a write's promise resolves, every write
 *   issued before it is durable too (callers rely on this to wait for "everything so far").
 * - Reads see every write whose promise resolved, and may see writes still in flight.
 * - A failed write rejects; the caller must then stop (a failed fsync is never retried).
 */
export interface StorageEngine {
  get(key: string): Uint8Array | undefined;
  /** Entries with gte <= key < lt in key order, at most `limit`. */
  range(opts: RangeOptions): Iterable<StorageEntry>;
  write(ops: readonly WriteOp[]): Promise<void>;
  close(): Promise<void>;
}

export interface RangeOptions {
  readonly gte: string;
  readonly lt: string;
  readonly limit?: number;
  /** Only the keys are wanted: an engine may leave values empty instead of reading them. */
  readonly keysOnly?: boolean;
}

export interface StorageEntry {
  readonly key: string;
  readonly value: Uint8Array;
}

export type WriteOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: string };

/** The smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: string): string {
  return prefix + '\uffff';
}
