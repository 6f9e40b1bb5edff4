/**
 * A KV value held as a string of one character per byte (U+0000 to U+00FF, Node's "latin1"):
 * one right-sized object on V8's heap. A `Uint8Array` of 256 bytes took an ArrayBuffer, a view
 * and a backing store outside the heap, about twice the bytes and three objects for the
 * collector to trace; and a view into a larger buffer (a Raft message, a snapshot) kept all of
 * it alive as long as the value lived. Strings compare by code unit, so byte strings compare
 * as their bytes do.
 */
export type ByteString = string;

/** A copy of `bytes` as a byte string (never a view: the source may be a larger buffer). */
export function toByteString(bytes: Uint8Array): ByteString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The bytes of a byte string (a new buffer). */
export function fromByteString(s: ByteString): Uint8Array {
  return Buffer.from(s, 'latin1');
}
