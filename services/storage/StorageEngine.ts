/**
 * The port every storage engine implements. Keys are strings ordered by code points, which is
 * the byte order of their UTF-8 (LMDB's order; see compareKeys); values are bytes.
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

/** The smallest key greater than every key starting with `prefix` (the highest code point after it). */
export function prefixEnd(prefix: string): string {
  return prefix + '\u{10ffff}';
}

/**
 * The engines' key order: code points, as the bytes of UTF-8 compare. It differs from JavaScript's
 * UTF-16 order only where a character above U+FFFF (a surrogate pair) meets one from U+E000 up.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  // Only a surrogate meeting a unit from U+E000 up orders differently, so both keys need a unit
  // from U+D800 up; without one (ASCII keys), JavaScript's order is the same and far cheaper.
  if (!highUnit.test(a) || !highUnit.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

const highUnit = /[\ud800-\uffff]/;

/** Whether `key` holds a UTF-16 unit from U+D800 up (only such keys order differently, see compareKeys). */
export function hasHighUnit(key: string): boolean {
  return highUnit.test(key);
}

/** A UTF-16 code unit moved so that surrogates (code points above U+FFFF) rank after every other unit. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
