import * as Y from 'yjs';
import { invalidArgument } from '../errors/DomainError';
import { deleteSetOf, encodedDeleteSetOf } from './trackDeletes';

/**
 * A version token is a Yjs snapshot (state vector + delete set) in Yjs's own v1 encoding, so
 * clients that run Yjs can make one with `Y.encodeSnapshot(Y.snapshot(doc))`. The delete set
 * matters: a Yjs delete does not advance the state vector, so a token made of the state vector
 * alone could not promise that a read sees an earlier delete.
 */
export type VersionToken = Uint8Array;

type DeleteSet = ReturnType<typeof Y.createDeleteSet>;
interface DeleteRange {
  readonly clock: number;
  readonly len: number;
}

export interface DecodedVersion {
  readonly sv: Map<number, number>;
  readonly ds: DeleteSet;
}

export const versionTokenBytesMax = 1 << 20;

/**
 * `Y.encodeSnapshot(Y.snapshot(doc))`: the delete set then the state vector, v1. The delete set
 * comes from `trackDeletes` (encoded once per change of the set) when the document is tracked.
 */
export function encodeVersion(doc: Y.Doc): VersionToken {
  const ds = encodedDeleteSetOf(doc);
  const sv = Y.encodeStateVector(doc);
  const token = new Uint8Array(ds.byteLength + sv.byteLength);
  token.set(ds, 0);
  token.set(sv, ds.byteLength);
  return token;
}

export function decodeVersion(token: Uint8Array): DecodedVersion {
  if (token.byteLength > versionTokenBytesMax) throw invalidArgument('version token is too large');
  try {
    const snap = Y.decodeSnapshot(token);
    return { sv: snap.sv, ds: snap.ds };
  } catch {
    throw invalidArgument('version token is not a Yjs snapshot');
  }
}

/** True when `doc` contains every insert and every delete named by `version`. */
export function versionCovered(doc: Y.Doc, version: DecodedVersion): boolean {
  const have = Y.decodeStateVector(Y.encodeStateVector(doc));
  for (const [client, clock] of version.sv) {
    if ((have.get(client) ?? 0) < clock) return false;
  }
  if (version.ds.clients.size === 0) return true;
  const haveDs = deleteSetOf(doc);
  for (const [client, ranges] of version.ds.clients) {
    const mine = haveDs.clients.get(client) ?? [];
    for (const r of ranges) {
      if (!rangeCovered(mine, r.clock, r.clock + r.len)) return false;
    }
  }
  return true;
}

/** `ranges` is sorted and merged (Yjs builds delete sets that way from the struct store). */
function rangeCovered(ranges: readonly DeleteRange[], from: number, to: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as DeleteRange;
    if (r.clock + r.len <= from) lo = mid + 1;
    else if (r.clock > from) hi = mid - 1;
    else return r.clock + r.len >= to;
  }
  return false;
}
