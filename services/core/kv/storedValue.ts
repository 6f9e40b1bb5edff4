declare const byteStringBrand: unique symbol;

/** A small value's bytes held as a string of one character per byte (U+0000 to U+00FF). */
export type ByteString = string & { readonly [byteStringBrand]: true };

/**
 * A KV value as the store holds it: always a copy of the bytes it came in (a command's value is
 * often a view into a Raft message or a snapshot, which a view would keep alive whole for as
 * long as the value lived), right-sized. Under `smallValueBytes` it is a byte string: one
 * object on V8's heap, 272 bytes for a 256-byte value, where a Uint8Array copy took an
 * ArrayBuffer, a view and a backing store outside the heap (about 530 bytes, three objects for
 * the collector). Larger values stay Uint8Array copies outside the heap, where the per-value
 * overhead no longer matters and the heap limit does not count them. Byte strings compare by
 * code unit, so they compare as their bytes do. `length` is the byte count of either form.
 */
export type StoredValue = ByteString | Uint8Array;

/** Values shorter than this are stored as byte strings. */
export const smallValueBytes = 1024;

export const emptyValue = '' as ByteString;

/** A right-sized copy of `bytes` (never a view). */
export function storedValue(bytes: Uint8Array): StoredValue {
  if (bytes.byteLength >= smallValueBytes) return Uint8Array.prototype.slice.call(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') as ByteString;
}

/** The value's bytes: the stored copy itself for a large value (never to be written to), a new buffer for a small one. */
export function valueBytes(v: StoredValue): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
}

/** Byte order (etcd's bytes.Compare) of a stored value and bytes. */
export function compareValue(a: StoredValue, b: Uint8Array): number {
  if (typeof a === 'string' && b.byteLength < smallValueBytes) {
    const s = storedValue(b);
    return a === s ? 0 : a < s ? -1 : 1;
  }
  return Buffer.compare(valueBytes(a), b);
}

/** Writes the value's bytes into `out` at `at`; returns the count. */
export function writeValue(out: Buffer, at: number, v: StoredValue): number {
  if (typeof v === 'string') return out.write(v, at, v.length, 'latin1');
  out.set(v, at);
  return v.byteLength;
}
