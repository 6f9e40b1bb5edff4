import { DigestIndex, digestLeafLevel, equalBytes } from './DigestIndex';

/** Bytes of a listed document's state hash (as strong as the tree's node hashes). */
export const listedHashBytes = 8;

/** One step of a digest descent: the caller's hashes of some nodes of one level. */
export interface DigestQuery {
  readonly level: number;
  readonly indexes: readonly number[];
  readonly hashes: readonly Uint8Array[];
  /** A differing node under which the responder holds at most this many documents is listed. */
  readonly listMax: number;
}

export interface DigestAnswer {
  /** Differing nodes the caller descends into next. */
  readonly differing: number[];
  /** Differing nodes whose documents (of the responder) are all in `documents`. */
  readonly listed: number[];
  readonly documents: Map<string, Uint8Array>;
}

/**
 * The responder's side of one descent step: which of the caller's nodes differ here, and for
 * each differing node either "descend" or, when few of our documents sit under it (always at
 * the leaf level), our documents there. Listing early spares the levels below, whose hashes
 * cost 16 per differing node while a listed document costs its id and a short hash. The index
 * keeps a document count per node, so a step costs the differing nodes, not their leaves.
 */
export function answerDigestQuery(index: DigestIndex, q: DigestQuery): DigestAnswer {
  const differing: number[] = [];
  const listed: number[] = [];
  const documents = new Map<string, Uint8Array>();
  if (q.level > digestLeafLevel) return { differing, listed, documents };
  for (const node of index.differing(q.level, q.indexes, q.hashes)) {
    if (q.level === digestLeafLevel || index.countUnder(q.level, node) <= q.listMax) {
      listed.push(node);
      for (const [id, h] of index.documentsUnder(q.level, node)) documents.set(id, h.subarray(0, listedHashBytes));
    } else {
      differing.push(node);
    }
  }
  return { differing, listed, documents };
}

/**
 * The documents that differ between our documents under the listed nodes and the responder's
 * list of its documents there: a different hash, or held by one side only. Sorted.
 */
export function differingDocuments(mine: ReadonlyMap<string, Uint8Array>, theirs: ReadonlyMap<string, Uint8Array>): string[] {
  const out = new Set<string>();
  for (const [id, h] of mine) {
    const t = theirs.get(id);
    if (t === undefined || !equalBytes(h.subarray(0, listedHashBytes), t)) out.add(id);
  }
  for (const id of theirs.keys()) if (!mine.has(id)) out.add(id);
  return [...out].sort();
}
