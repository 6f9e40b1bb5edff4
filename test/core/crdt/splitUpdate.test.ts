// A document's whole state cut into bounded updates: on seeded documents edited by several
// clients (texts, arrays, maps, deletes), every piece is within the bound, and the pieces,
// applied in order or in reverse, leave exactly the state of the whole update. A struct larger
// than the bound, or an update missing what it depends on, cannot be cut.
// Replay a seed: SIM_SEED=<seed> npx jest test/core/crdt/splitUpdate
import * as Y from 'yjs';
import { splitUpdate } from '../../../services/core/crdt/splitUpdate';
import { seedPlan } from '../../sim/convergence/simSeeds';
import { makePrng } from '../../sim/prng';
import { randomEdit } from './randomEdit';

const plan = seedPlan(process.env, 30);

/** The state as Yjs would send it to a new peer: equal bytes, equal documents. */
const stateOf = (doc: Y.Doc): string => Buffer.from(Y.encodeStateAsUpdate(doc)).toString('hex');

test.each(plan.seeds)('seed %i: the pieces are within the bound and rebuild the same state, in order or reversed', (seed) => {
  const rng = makePrng(seed);
  const docs = [1, 2, 3].map((id) => {
    const d = new Y.Doc({ gc: rng.chance(0.5) });
    d.clientID = id;
    return d;
  });
  for (let i = 0; i < 300; i++) {
    const d = docs[rng.int(docs.length)]!;
    randomEdit(d, rng);
    if (rng.chance(0.2)) for (const other of docs) if (other !== d) Y.applyUpdate(other, Y.encodeStateAsUpdate(d));
  }
  for (const d of docs) for (const other of docs) if (other !== d) Y.applyUpdate(other, Y.encodeStateAsUpdate(d));
  const whole = Y.encodeStateAsUpdate(docs[0]!);
  const max = 200 + rng.int(600);
  const pieces = splitUpdate(whole, max);
  expect([`seed ${seed}`, pieces !== undefined]).toEqual([`seed ${seed}`, true]);
  expect(pieces!.length).toBeGreaterThan(1);
  for (const p of pieces!) expect([`seed ${seed}`, p.byteLength <= max]).toEqual([`seed ${seed}`, true]);
  const expected = new Y.Doc();
  Y.applyUpdate(expected, whole);
  for (const order of [pieces!, [...pieces!].reverse()]) {
    const rebuilt = new Y.Doc();
    for (const p of order) Y.applyUpdate(rebuilt, p);
    expect([`seed ${seed}`, stateOf(rebuilt)]).toEqual([`seed ${seed}`, stateOf(expected)]);
    expect(rebuilt.getText('t').toString()).toBe(expected.getText('t').toString());
    expect(rebuilt.getMap('m').toJSON()).toEqual(expected.getMap('m').toJSON());
  }
});

test('an update within the bound is its own piece; one struct past it, or missing dependencies, cannot be cut', () => {
  const small = new Y.Doc();
  small.getText('t').insert(0, 'hello');
  const update = Y.encodeStateAsUpdate(small);
  expect(splitUpdate(update, 1000)).toEqual([update]);
  const big = new Y.Doc();
  big.getText('t').insert(0, 'x'.repeat(5000)); // one insert: one struct
  expect(splitUpdate(Y.encodeStateAsUpdate(big), 1000)).toBeUndefined();
  // Structs of a client whose earlier ones are missing: Yjs keeps them pending.
  const a = new Y.Doc();
  a.getText('t').insert(0, 'first');
  const sv = Y.encodeStateVector(a);
  for (let i = 0; i < 200; i++) a.getText('t').insert(5, `later ${i} `);
  expect(splitUpdate(Y.encodeStateAsUpdate(a, sv), 500)).toBeUndefined();
});
