import * as Y from 'yjs';

// Version tokens are the document's Yjs snapshot (delete set + state vector, Y.encodeSnapshot).
// A session must remember the union of everything it has seen: a write accepted by node C
// returns C's state, which need not include an earlier write accepted by node A, so keeping only
// the latest token would lose read-your-writes. The union of two snapshots is the per-client
// maximum of the state vectors plus the merge of the delete sets.

/** The smallest version containing both; `b` alone if either token cannot be decoded. */
export function mergeVersions(a: Uint8Array | undefined, b: Uint8Array): Uint8Array {
  if (a === undefined || a.length === 0) return b;
  if (b.length === 0) return a;
  let left: Y.Snapshot;
  let right: Y.Snapshot;
  try {
    left = Y.decodeSnapshot(a);
    right = Y.decodeSnapshot(b);
  } catch {
    // Not a Yjs snapshot (a node speaking another token format): the newest token is the best
    // remaining guess, and the node will still reject or wait on it as it sees fit.
    return b;
  }
  const sv = new Map(left.sv);
  for (const [client, clock] of right.sv) sv.set(client, Math.max(clock, sv.get(client) ?? 0));
  const ds = Y.mergeDeleteSets([left.ds, right.ds]);
  return Y.encodeSnapshot(Y.createSnapshot(ds, sv));
}
