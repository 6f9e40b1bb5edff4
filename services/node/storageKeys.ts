import { DocumentId } from '../core/crdt/documentId';

/**
 * The storage layout of a node. Document ids never contain control characters, so `\u0000`
 * separates an id from what follows it without ambiguity.
 *   s:<doc>                  compacted snapshot of a document (a merged Yjs update)
 *   u:<doc>\u0000<seq hex>   an update appended after the snapshot
 *   d:<doc>                  the document's record (counters and state hash, see documentRecord)
 *   n:<name>                 node metadata (incarnation, ...)
 *   p:<...>                  partition ledger and other node records
 * The authoritative log (r:<...>, DurableRaftStorage) has a store of its own, <data dir>/raft
 * (see moveRaftLog for data directories from before).
 */
export const updatePrefix = 'u:';
export const snapshotPrefix = 's:';
export const recordPrefix = 'd:';

export function updateKey(docId: DocumentId, seq: number): string {
  return `u:${docId}\u0000${seq.toString(16).padStart(12, '0')}`;
}

/** The key range holding every stored update of one document. */
export function updateRange(docId: DocumentId): { gte: string; lt: string } {
  return { gte: `u:${docId}\u0000`, lt: `u:${docId}\u0001` };
}

export function parseUpdateKey(key: string): { docId: DocumentId; seq: number } {
  const sep = key.lastIndexOf('\u0000');
  return { docId: key.slice(2, sep) as DocumentId, seq: parseInt(key.slice(sep + 1), 16) };
}

export function snapshotKey(docId: DocumentId): string {
  return `s:${docId}`;
}

export function parseSnapshotKey(key: string): DocumentId {
  return key.slice(2) as DocumentId;
}

export function recordKey(docId: DocumentId | string): string {
  return `d:${docId}`;
}

export function parseRecordKey(key: string): DocumentId {
  return key.slice(2) as DocumentId;
}

export function nodeKey(name: string): string {
  return `n:${name}`;
}

/**
 * Present once every stored document has its record: written with the first new document and
 * by the migration of a data directory from before records existed.
 */
export const recordsCompleteKey = nodeKey('document-records');
