/**
 * What a node keeps on disk about each document besides its data (key `d:<doc>`), written in
 * the same batch as every update and compaction of the document, so it is never older than the
 * data: the counters `List` reports, and (when known) the state hash the anti-entropy digest is
 * built from.
 * Start-up reads these records instead of loading every document.
 */
export interface DocumentRecord {
  /** Updates stored after the snapshot. */
  readonly storedUpdates: number;
  /** Bytes of the snapshot and the updates stored after it. */
  readonly storedBytes: number;
  /**
   * `stateHash` of the document as stored, or empty when it was not computed yet: a change
   * leaves it out, and it is written when the document leaves memory or the store closes.
   */
  readonly hash: Uint8Array;
}

const formatVersion = 1;
const headerBytes = 13; // version (1) + storedUpdates (u32) + storedBytes (f64)

export function encodeDocumentRecord(r: DocumentRecord): Uint8Array {
  const out = new Uint8Array(headerBytes + r.hash.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, formatVersion);
  view.setUint32(1, r.storedUpdates);
  view.setFloat64(5, r.storedBytes);
  out.set(r.hash, headerBytes);
  return out;
}

export function decodeDocumentRecord(bytes: Uint8Array): DocumentRecord {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < headerBytes || view.getUint8(0) !== formatVersion) {
    throw new Error(`unknown document record format (${bytes.byteLength} bytes, version ${bytes[0] ?? '-'})`);
  }
  return {
    storedUpdates: view.getUint32(1),
    storedBytes: view.getFloat64(5),
    // A copy: the engine may hand out views into buffers it reuses or pools.
    hash: bytes.slice(headerBytes),
  };
}
