import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

type Struct = Y.Item | Y.GC;

/** Bytes an update takes beyond its structs: the client count and the empty delete set. */
const updateOverheadBytes = 16;
/** Bytes a run of one client's structs takes beyond them: struct count, client id, first clock. */
const runOverheadBytes = 24;

/**
 * A Yjs update (v1) cut into updates of at most `maxBytes` each, which applied in order (in any
 * order, by Yjs's pending structs) leave the state the whole one leaves: runs of structs, as
 * many clients' as fit in each, then the whole delete set alone. For a document too large to
 * push in one update (a client's is bounded), as a restore must.
 *
 * One writer's consecutive inserts are one struct to Yjs (it merges them), so a struct larger
 * than a piece is cut first, at a character or element boundary (never inside a surrogate
 * pair), in a copy of the document. Undefined when it cannot be cut that fine: a struct that
 * cannot be split (an embed, a binary, a format) is larger than `maxBytes` alone, or so is the
 * delete set, or the update lacks structs it depends on (Yjs then holds them pending, and they
 * cannot be re-encoded).
 */
export function splitUpdate(update: Uint8Array, maxBytes: number): Uint8Array[] | undefined {
  if (update.byteLength <= maxBytes) return [update];
  const doc = new Y.Doc({ gc: false });
  Y.applyUpdate(doc, update);
  const store = doc.store;
  if (store.pendingStructs !== null || store.pendingDs !== null) return undefined;
  const budget = maxBytes - updateOverheadBytes - runOverheadBytes;
  if (!cutLargeItems(doc, budget)) return undefined;
  const out: Uint8Array[] = [];
  let runs: { client: number; structs: Struct[] }[] = [];
  let bytes = updateOverheadBytes;
  const flush = (): void => {
    if (runs.length > 0) out.push(encodeRuns(runs));
    runs = [];
    bytes = updateOverheadBytes;
  };
  // Clients from the highest id down, as Yjs writes them.
  for (const [client, structs] of [...(store.clients as Map<number, Struct[]>)].sort((a, b) => b[0] - a[0])) {
    let run: { client: number; structs: Struct[] } | undefined;
    for (const s of structs) {
      const size = structBytes(s) + (run === undefined ? runOverheadBytes : 0);
      if (bytes + size > maxBytes) {
        flush();
        run = undefined;
      }
      if (run === undefined) {
        run = { client, structs: [] };
        runs.push(run);
        bytes += runOverheadBytes;
      }
      run.structs.push(s);
      bytes += structBytes(s);
    }
  }
  flush();
  // No structs, every deletion: what encodeStateAsUpdate gives a peer that has every struct.
  const deletes = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc));
  if (deletes.byteLength > maxBytes) return undefined;
  out.push(deletes);
  return out;
}

const sizes = new WeakMap<Struct, number>();

function structBytes(s: Struct): number {
  let n = sizes.get(s);
  if (n === undefined) {
    const e = new Y.UpdateEncoderV1();
    s.write(e, 0);
    n = e.toUint8Array().byteLength;
    sizes.set(s, n);
  }
  return n;
}

/**
 * Splits every item larger than `budget` bytes into items that fit (Yjs's own split, as when
 * an insert lands inside a text), keeping Yjs from merging them back; false when one cannot be
 * split that fine.
 */
function cutLargeItems(doc: Y.Doc, budget: number): boolean {
  let ok = true;
  doc.transact((tr) => {
    for (const [client, structs] of doc.store.clients as Map<number, Struct[]>) {
      // The array grows as items split: the right part is measured next.
      for (let i = 0; i < structs.length && ok; i++) {
        const s = structs[i] as Struct;
        const size = structBytes(s);
        if (size <= budget) continue;
        if (!(s instanceof Y.Item) || s.length <= 1) {
          ok = false;
          break;
        }
        let at = Math.max(1, Math.min(s.length - 1, Math.floor((s.length * budget) / size * 0.9)));
        // A split between the halves of a surrogate pair would turn both into U+FFFD.
        if (s.content instanceof Y.ContentString && isHighSurrogate(s.content.str.charCodeAt(at - 1))) at = at > 1 ? at - 1 : at + 1;
        if (at >= s.length) {
          ok = false;
          break;
        }
        Y.getItemCleanStart(tr, Y.createID(client, s.id.clock + at));
        sizes.delete(s);
        i--; // measure the left part again
      }
    }
    // Yjs merges split items back when the transaction ends; these must stay apart.
    (tr as unknown as { _mergeStructs: unknown[] })._mergeStructs.length = 0;
  });
  return ok;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** An update of the given runs (each one client's structs at consecutive clocks), with an empty delete set. */
function encodeRuns(runs: readonly { client: number; structs: readonly Struct[] }[]): Uint8Array {
  const e = new Y.UpdateEncoderV1();
  encoding.writeVarUint(e.restEncoder, runs.length);
  for (const { client, structs } of runs) {
    encoding.writeVarUint(e.restEncoder, structs.length);
    e.writeClient(client);
    encoding.writeVarUint(e.restEncoder, (structs[0] as Struct).id.clock);
    for (const s of structs) s.write(e, 0);
  }
  encoding.writeVarUint(e.restEncoder, 0);
  return e.toUint8Array();
}
