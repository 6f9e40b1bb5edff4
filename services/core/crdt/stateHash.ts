import * as Y from 'yjs';
import { deleteSetOf } from './trackDeletes';

/** An injected hash (the node passes SHA-256 from node:crypto; the core does no I/O). */
export type HashFn = (bytes: Uint8Array) => Uint8Array;

/**
 * A hash of everything a replica has integrated: the state vector and the delete set, both in a
 * canonical order. Two replicas with equal hashes hold the same document; a delete changes the
 * hash even though it does not advance the state vector.
 */
export function stateHash(doc: Y.Doc, hash: HashFn): Uint8Array {
  const sv = Y.decodeStateVector(Y.encodeStateVector(doc));
  const ds = deleteSetOf(doc);
  const parts: number[] = [];
  for (const client of [...sv.keys()].sort((a, b) => a - b)) parts.push(client, sv.get(client) ?? 0);
  parts.push(-1);
  for (const client of [...ds.clients.keys()].sort((a, b) => a - b)) {
    parts.push(client);
    for (const r of ds.clients.get(client) ?? []) parts.push(r.clock, r.len);
    parts.push(-2);
  }
  const bytes = new Uint8Array(new Float64Array(parts).buffer);
  return hash(bytes);
}
