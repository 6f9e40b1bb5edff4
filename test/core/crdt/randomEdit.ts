import * as Y from 'yjs';
import { Prng } from '../../sim/prng';

/**
 * One transaction of 1 to 3 random edits of a text, an array (with nested maps) and a map (with
 * nested maps, overwritten or deleted): inserts, deletes and the deletes that overwriting
 * implies, for the seeded tests of delete sets and diffs.
 */
export function randomEdit(doc: Y.Doc, rng: Prng): void {
  doc.transact(() => {
    for (let n = 1 + rng.int(3); n > 0; n--) {
      const text = doc.getText('t');
      const list = doc.getArray<unknown>('l');
      const map = doc.getMap<unknown>('m');
      switch (rng.int(6)) {
        case 0:
          text.insert(rng.int(text.length + 1), 'xyz'.slice(0, 1 + rng.int(3)));
          break;
        case 1:
          if (text.length > 0) {
            const at = rng.int(text.length);
            text.delete(at, 1 + rng.int(Math.min(3, text.length - at)));
          }
          break;
        case 2:
          list.insert(rng.int(list.length + 1), rng.chance(0.3) ? [new Y.Map()] : [rng.int(9), rng.int(9)]);
          break;
        case 3:
          if (list.length > 0) list.delete(rng.int(list.length), 1);
          break;
        case 4: {
          // Overwriting a nested map deletes it and everything in it.
          const inner = new Y.Map<unknown>();
          map.set(`k${rng.int(4)}`, rng.chance(0.5) ? inner : rng.int(9));
          if (inner.doc !== null) inner.set('v', rng.int(9));
          break;
        }
        default:
          map.delete(`k${rng.int(4)}`);
      }
    }
  });
}

/**
 * Three replicas (client ids 100-102; the third without garbage collection), each queueing the
 * updates the other two make for `deliverOne` to apply later, in any order.
 */
export function replicasWithInboxes(): { docs: Y.Doc[]; inbox: Uint8Array[][] } {
  const docs = [0, 1, 2].map((i) => {
    const doc = new Y.Doc({ gc: i !== 2 });
    doc.clientID = 100 + i;
    return doc;
  });
  const inbox: Uint8Array[][] = [[], [], []];
  docs.forEach((doc, i) => doc.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin === 'remote') return;
    for (const j of [0, 1, 2]) if (j !== i) inbox[j]?.push(u);
  }));
  return { docs, inbox };
}

/** Applies any queued update, not the oldest: later ones wait in Yjs until their dependencies come. */
export function deliverOne(doc: Y.Doc, queue: Uint8Array[], rng: Prng): void {
  const [u] = queue.splice(rng.int(queue.length), 1);
  Y.applyUpdate(doc, u as Uint8Array, 'remote');
}
