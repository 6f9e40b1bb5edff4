// A document's whole state cut into bounded updates: on seeded documents edited by several
// clients (texts, arrays, maps, deletes), every piece is within the bound, and the pieces,
// applied in order or in reverse, leave exactly the state of the whole update. One writer's
// merged appends are cut at character boundaries (emoji intact); many writers share pieces. A
// struct that cannot be split larger than the bound, or missing dependencies, cannot be cut.
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

test('one writer\'s appends, one struct to Yjs, are cut at character boundaries, never inside a surrogate pair', () => {
  const doc = new Y.Doc();
  const text = doc.getText('t');
  // Appends by one client merge into one struct: emoji (surrogate pairs) at every offset parity.
  for (let i = 0; i < 400; i++) text.insert(text.length, i % 3 === 0 ? '😀a' : i % 3 === 1 ? 'bc😀' : 'defgh');
  const list = doc.getArray('l');
  for (let i = 0; i < 300; i++) list.insert(list.length, [{ n: i, pad: 'x'.repeat(20) }]);
  text.delete(10, 30);
  const whole = Y.encodeStateAsUpdate(doc);
  for (const max of [300, 1000]) {
    const pieces = splitUpdate(whole, max)!;
    expect(pieces).toBeDefined();
    for (const p of pieces) expect(p.byteLength).toBeLessThanOrEqual(max);
    const rebuilt = new Y.Doc();
    for (const p of pieces) Y.applyUpdate(rebuilt, p);
    expect(rebuilt.getText('t').toString()).toBe(text.toString());
    expect(rebuilt.getArray('l').toJSON()).toEqual(list.toJSON());
    expect(rebuilt.getText('t').toString()).not.toContain('\ufffd');
  }
});

test('many writers\' structs share pieces: a text of 2,000 sessions goes in a few pieces, not one per writer', () => {
  const doc = new Y.Doc();
  for (let i = 0; i < 2000; i++) {
    const writer = new Y.Doc();
    writer.clientID = 1000 + i;
    writer.getText('t').insert(0, `session ${i} wrote this line.\n`.repeat(10));
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(writer));
  }
  const whole = Y.encodeStateAsUpdate(doc);
  const max = 64 << 10;
  const pieces = splitUpdate(whole, max)!;
  expect(pieces.length).toBeLessThanOrEqual(Math.ceil(whole.byteLength / (max * 0.9)) + 1);
  const rebuilt = new Y.Doc();
  for (const p of pieces) Y.applyUpdate(rebuilt, p);
  expect(rebuilt.getText('t').toString()).toBe(doc.getText('t').toString());
});

test('an update within the bound is its own piece; a struct that cannot be split past it, or missing dependencies, cannot be cut', () => {
  const small = new Y.Doc();
  small.getText('t').insert(0, 'hello');
  const update = Y.encodeStateAsUpdate(small);
  expect(splitUpdate(update, 1000)).toEqual([update]);
  const big = new Y.Doc();
  big.getMap('m').set('blob', new Uint8Array(5000)); // a binary: one struct of one element
  expect(splitUpdate(Y.encodeStateAsUpdate(big), 1000)).toBeUndefined();
  // Structs of a client whose earlier ones are missing: Yjs keeps them pending.
  const a = new Y.Doc();
  a.getText('t').insert(0, 'first');
  const sv = Y.encodeStateVector(a);
  for (let i = 0; i < 200; i++) a.getText('t').insert(5, `later ${i} `);
  expect(splitUpdate(Y.encodeStateAsUpdate(a, sv), 500)).toBeUndefined();
});
