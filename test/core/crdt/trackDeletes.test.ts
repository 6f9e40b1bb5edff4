// The tracked delete set equals the one Yjs builds from the struct store after every
// transaction: seeded edits of texts, arrays, maps and nested types on three replicas (with and
// without garbage collection) that exchange updates late, out of order (pending until their
// dependencies arrive) and whole, one replica tracked only from the middle of the run; and the
// version token, whose delete set is encoded once per change of the set, is Yjs's snapshot.
// Replay a seed: SIM_SEED=<seed> npx jest test/core/crdt/trackDeletes
import * as Y from 'yjs';
import { deleteSetOf, trackDeletes } from '../../../services/core/crdt/trackDeletes';
import { decodeVersion, encodeVersion, versionCovered } from '../../../services/core/crdt/versionToken';
import { makePrng } from '../../sim/prng';
import { deliverOne, randomEdit as edit, replicasWithInboxes } from './randomEdit';
import { seedPlan } from '../../sim/convergence/simSeeds';

const plan = seedPlan(process.env, 60);

test.each(plan.seeds)('seed %i: the tracked delete set is the one Yjs builds from the structs', (seed) => {
  const rng = makePrng(seed);
  const { docs, inbox } = replicasWithInboxes();
  trackDeletes(docs[0] as Y.Doc);
  trackDeletes(docs[2] as Y.Doc);
  for (let step = 0; step < 150; step++) {
    const i = rng.int(3);
    const doc = docs[i] as Y.Doc;
    const queue = inbox[i] as Uint8Array[];
    const pick = rng.int(10);
    if (pick < 5) edit(doc, rng);
    else if (pick < 8 && queue.length > 0) deliverOne(doc, queue, rng);
    else {
      // A whole-state sync from another replica (garbage-collected content arrives as GC structs).
      const from = docs[(i + 1 + rng.int(2)) % 3] as Y.Doc;
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(from, Y.encodeStateVector(doc)), 'remote');
    }
    if (step === 75) trackDeletes(docs[1] as Y.Doc);
    docs.forEach((d, k) => {
      const built = Y.createDeleteSetFromStructStore(d.store);
      expect({ seed, step, replica: k, equal: Y.equalDeleteSets(deleteSetOf(d), built) }).toEqual({ seed, step, replica: k, equal: true });
      // The token (its delete set encoded once per change of the set) is the one Yjs makes.
      const token = Buffer.from(encodeVersion(d)).equals(Buffer.from(Y.encodeSnapshot(Y.snapshot(d))));
      expect({ seed, step, replica: k, token }).toEqual({ seed, step, replica: k, token: true });
    });
  }
  // Every replica covers its own token.
  for (const d of docs) expect(versionCovered(d, decodeVersion(encodeVersion(d)))).toBe(true);
});

test('content that arrives already garbage-collected changes the tracked set and the token', () => {
  const a = new Y.Doc();
  a.clientID = 1;
  a.getText('t').insert(0, 'xyz');
  a.getText('t').delete(0, 3); // collected at once: a holds a GC struct, no item
  const b = new Y.Doc();
  b.clientID = 2;
  trackDeletes(b);
  b.getText('t').insert(0, 'b');
  const before = encodeVersion(b); // the encoded delete set is kept from here
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  expect(Y.equalDeleteSets(deleteSetOf(b), Y.createDeleteSetFromStructStore(b.store))).toBe(true);
  expect(deleteSetOf(b).clients.get(1)).toEqual([expect.objectContaining({ clock: 0, len: 3 })]);
  const after = encodeVersion(b);
  expect(Buffer.from(after).equals(Buffer.from(Y.encodeSnapshot(Y.snapshot(b))))).toBe(true);
  expect(Buffer.from(after).equals(Buffer.from(before))).toBe(false);
});
