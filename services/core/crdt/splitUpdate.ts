import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

type Struct = Y.Item | Y.GC;

/** Bytes an update of one client's structs takes beyond them: counts, client id, clock, empty delete set. */
const chunkOverheadBytes = 32;

/**
 * A Yjs update (v1) cut into updates of at most `maxBytes` each, which applied in order (in any
 * order, by Yjs's pending structs) leave the state the whole one leaves: each carries a run of
 * one client's structs, and the last the whole delete set. For a document too large to push
 * in one update (a client's is bounded), as a restore must. Undefined when it cannot be cut
 * that fine: one struct, or the delete set, is larger than `maxBytes` alone, or the update
 * lacks structs it depends on (then Yjs holds them pending and they cannot be re-encoded).
 */
export function splitUpdate(update: Uint8Array, maxBytes: number): Uint8Array[] | undefined {
  if (update.byteLength <= maxBytes) return [update];
  const doc = new Y.Doc({ gc: false });
  Y.applyUpdate(doc, update);
  const store = doc.store;
  if (store.pendingStructs !== null || store.pendingDs !== null) return undefined;
  const out: Uint8Array[] = [];
  // Clients from the highest id down, as Yjs writes them.
  for (const [client, structs] of [...(store.clients as Map<number, Struct[]>)].sort((a, b) => b[0] - a[0])) {
    let start = 0;
    while (start < structs.length) {
      let end = start;
      let bytes = chunkOverheadBytes;
      while (end < structs.length) {
        const size = structBytes(structs[end] as Struct);
        if (bytes + size > maxBytes) break;
        bytes += size;
        end++;
      }
      if (end === start) return undefined; // one struct alone is too large
      out.push(encodeRun(client, structs, start, end));
      start = end;
    }
  }
  // No structs, every deletion: what encodeStateAsUpdate gives a peer that has every struct.
  const deletes = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc));
  if (deletes.byteLength > maxBytes) return undefined;
  out.push(deletes);
  return out;
}

function structBytes(s: Struct): number {
  const e = new Y.UpdateEncoderV1();
  s.write(e, 0);
  return e.toUint8Array().byteLength;
}

/** An update of `client`'s structs [start, end) (consecutive clocks), with an empty delete set. */
function encodeRun(client: number, structs: readonly Struct[], start: number, end: number): Uint8Array {
  const e = new Y.UpdateEncoderV1();
  encoding.writeVarUint(e.restEncoder, 1);
  encoding.writeVarUint(e.restEncoder, end - start);
  e.writeClient(client);
  encoding.writeVarUint(e.restEncoder, (structs[start] as Struct).id.clock);
  for (let i = start; i < end; i++) (structs[i] as Struct).write(e, 0);
  encoding.writeVarUint(e.restEncoder, 0);
  return e.toUint8Array();
}
