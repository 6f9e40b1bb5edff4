import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

type Struct = Y.Item | Y.GC;

/**
 * What `Y.encodeStateAsUpdate(doc, stateVector)` encodes, without the delete set: the structs
 * the holder of `stateVector` lacks, in Yjs's v1 update format (clients from the highest id
 * down, as Yjs writes them), followed by an empty delete set. Undefined while the document
 * holds pending structs or deletes (waiting for missing dependencies), which Yjs folds into its
 * own encoding: the caller then uses Yjs's.
 *
 * Yjs builds the delete set of every diff by walking every struct of the document (about 20 ms
 * for a text with 100,000 edits) and the receiver walks every range of it (58 KB at that size),
 * although a peer whose delete set is the same gains nothing from it (see `deleteSetDigest`).
 */
export function encodeStructsSince(doc: Y.Doc, encodedStateVector: Uint8Array): Uint8Array | undefined {
  const store = doc.store;
  if (store.pendingStructs !== null || store.pendingDs !== null) return undefined;
  const target = Y.decodeStateVector(encodedStateVector);
  const from = new Map<number, number>();
  for (const [client, structs] of store.clients as Map<number, Struct[]>) {
    const last = structs[structs.length - 1];
    if (last === undefined) continue;
    const clock = target.get(client) ?? 0;
    if (last.id.clock + last.length > clock) from.set(client, clock);
  }
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, from.size);
  for (const [client, wanted] of [...from].sort((a, b) => b[0] - a[0])) {
    const structs = store.clients.get(client) as Struct[];
    const clock = Math.max(wanted, (structs[0] as Struct).id.clock);
    const start = Y.findIndexSS(structs, clock);
    encoding.writeVarUint(encoder.restEncoder, structs.length - start);
    encoder.writeClient(client);
    encoding.writeVarUint(encoder.restEncoder, clock);
    const first = structs[start] as Struct;
    first.write(encoder, clock - first.id.clock);
    for (let i = start + 1; i < structs.length; i++) (structs[i] as Struct).write(encoder, 0);
  }
  // An empty delete set: no clients.
  encoding.writeVarUint(encoder.restEncoder, 0);
  return encoder.toUint8Array();
}
