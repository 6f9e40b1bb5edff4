import * as Y from 'yjs';

type DeleteSet = ReturnType<typeof Y.createDeleteSet>;
interface Range {
  clock: number;
  len: number;
}

interface Tracked {
  readonly ds: DeleteSet;
  /** The set in Yjs's v1 encoding, kept until the set changes (see encodedDeleteSetOf). */
  encoded: Uint8Array | undefined;
  /** A hash of `encoded` and the function that made it (see deleteSetDigest). */
  digest: { readonly hash: (bytes: Uint8Array) => Uint8Array; readonly value: Uint8Array } | undefined;
}

const tracked = new WeakMap<Y.Doc, Tracked>();

/**
 * Keeps the delete set of `doc` up to date after every transaction, so `deleteSetOf` costs
 * nothing: Yjs builds one by walking every struct of the document (`createDeleteSetFromStructStore`),
 * about 20 ms for a text with 100,000 edits, and version tokens and state hashes need it on
 * every write. A struct, once deleted, stays deleted, so the set only grows: a transaction adds
 * the ranges it deleted (its own delete set) and the new structs that arrived deleted (garbage-
 * collected content from a peer, which no transaction deletes here). New structs of a client are
 * exactly its clocks between the transaction's before and after states. The result is the same
 * sorted, merged set Yjs builds (maximal runs of deleted clocks per client).
 */
export function trackDeletes(doc: Y.Doc): void {
  if (tracked.has(doc)) return;
  const t: Tracked = { ds: Y.createDeleteSetFromStructStore(doc.store), encoded: undefined, digest: undefined };
  const ds = t.ds;
  tracked.set(doc, t);
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    tr.deleteSet.clients.forEach((ranges, client) => {
      for (const r of ranges) addRange(ds, client, r.clock, r.len);
      if (ranges.length > 0) forget(t);
    });
    tr.afterState.forEach((after, client) => {
      const before = tr.beforeState.get(client) ?? 0;
      if (after === before) return;
      const structs = doc.store.clients.get(client);
      if (structs === undefined) return;
      for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
        const s = structs[i] as Y.Item | Y.GC;
        if (!s.deleted) continue;
        addRange(ds, client, s.id.clock, s.length);
        forget(t);
      }
    });
  });
}

/** The delete set of `doc`: the tracked one (do not change it), else built from its structs. */
export function deleteSetOf(doc: Y.Doc): DeleteSet {
  return tracked.get(doc)?.ds ?? Y.createDeleteSetFromStructStore(doc.store);
}

const noStateVector = new Map<number, number>();

/**
 * The delete set of `doc` in Yjs's v1 encoding (as a snapshot starts with it). A tracked
 * document keeps it until the set changes: inserts, most writes to a text, leave it as it is,
 * and a token of a much-edited text is mostly its delete set (58 KB at 100,000 edits).
 */
export function encodedDeleteSetOf(doc: Y.Doc): Uint8Array {
  const t = tracked.get(doc);
  if (t?.encoded !== undefined) return t.encoded;
  // A snapshot with an empty state vector is the delete set followed by one byte (a zero count).
  const withEmptySv = Y.encodeSnapshot(Y.createSnapshot(deleteSetOf(doc), noStateVector));
  const encoded = withEmptySv.subarray(0, withEmptySv.byteLength - 1);
  if (t !== undefined) t.encoded = encoded;
  return encoded;
}

/**
 * A hash of the delete set of `doc` (of its canonical v1 encoding): two replicas with the same
 * digest hold the same deleted ranges. Kept until the set changes, like the encoding. A peer
 * that names the same digest gains nothing from a diff's delete set (encodeStructsSince).
 */
export function deleteSetDigest(doc: Y.Doc, hash: (bytes: Uint8Array) => Uint8Array): Uint8Array {
  const t = tracked.get(doc);
  if (t?.digest !== undefined && t.digest.hash === hash) return t.digest.value;
  const value = hash(encodedDeleteSetOf(doc));
  if (t !== undefined) t.digest = { hash, value };
  return value;
}

/** The set changed: its encoding and digest are stale. */
function forget(t: Tracked): void {
  t.encoded = undefined;
  t.digest = undefined;
}

/** Adds [clock, clock + len) to a client's sorted, merged ranges, merging what it touches. */
function addRange(ds: DeleteSet, client: number, clock: number, len: number): void {
  let ranges = ds.clients.get(client) as Range[] | undefined;
  if (ranges === undefined) {
    ranges = [];
    ds.clients.set(client, ranges as never);
  }
  // The first range that ends at or after `clock` (ranges ending before it stay apart).
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as Range;
    if (r.clock + r.len < clock) lo = mid + 1;
    else hi = mid;
  }
  let end = clock + len;
  let start = clock;
  let last = lo;
  while (last < ranges.length && (ranges[last] as Range).clock <= end) {
    const r = ranges[last] as Range;
    start = Math.min(start, r.clock);
    end = Math.max(end, r.clock + r.len);
    last++;
  }
  ranges.splice(lo, last - lo, { clock: start, len: end - start });
}
