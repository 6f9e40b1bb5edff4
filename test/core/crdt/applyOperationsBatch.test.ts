// A batch of typed operations is all or nothing, decided by a model of the places it touches
// (on a scratch copy only when a top-level type's kind cannot be told). Seeded random batches over a small set of
// names (so operations collide often) must end exactly as applying their operations one by one
// would: the same JSON when every one applies, and when one fails, that operation's error with
// the document untouched. Replay a seed: SIM_SEED=<seed> npx jest test/core/crdt/applyOperationsBatch
import * as Y from 'yjs';
import { applyOperations } from '../../../services/core/crdt/applyOperations';
import { renderJson } from '../../../services/core/crdt/renderJson';
import { TypedOperation } from '../../../services/core/crdt/typedOperation';
import { DomainError } from '../../../services/core/errors/DomainError';
import { makePrng, Prng } from '../../sim/prng';
import { seedPlan } from '../../sim/convergence/simSeeds';

// Counts whole-document encodes (the scratch copy starts with one) everywhere Yjs is imported.
const mockEncodes = { count: 0 };
jest.mock('yjs', () => {
  const actual = jest.requireActual<typeof import('yjs')>('yjs');
  return { ...actual, encodeStateAsUpdate: (...args: Parameters<typeof actual.encodeStateAsUpdate>) => (mockEncodes.count++, actual.encodeStateAsUpdate(...args)) };
});

const names = ['a', 'b', 'c', 'd'];
const keys = ['x', 'y', 'z'];

function randomPath(rng: Prng, minSegments: number): string[] {
  const length = minSegments + rng.int(3 - minSegments + 1);
  return Array.from({ length }, (_, i) => (i === 0 ? rng.pick(names) : rng.pick(keys)));
}

/** A random operation; list and text ones on `focus` half the time (so a batch grows and shrinks one). */
function randomOp(rng: Prng, focus?: string[]): TypedOperation {
  const index = rng.int(4);
  const seqPath = (): string[] => (focus !== undefined && rng.chance(0.5) ? focus : randomPath(rng, 1));
  switch (rng.int(7)) {
    case 0:
      return { kind: 'map-set', path: randomPath(rng, 2), value: rng.int(100) };
    case 1:
      return { kind: 'map-delete', path: randomPath(rng, 2) };
    case 2:
      return { kind: 'list-insert', path: seqPath(), index, values: Array.from({ length: 1 + rng.int(2) }, () => rng.int(10)) };
    case 3:
      return { kind: 'list-delete', path: seqPath(), index, count: rng.int(3) };
    case 4:
      return { kind: 'text-insert', path: seqPath(), index, text: 'ab'.slice(0, 1 + rng.int(2)) };
    case 5:
      return { kind: 'text-delete', path: seqPath(), index, length: rng.int(3) };
    default:
      return { kind: 'counter-add', path: randomPath(rng, 1), delta: 1 + rng.int(5) };
  }
}

/** The outcome of a call: its error (kind and message) or the document's JSON after it. */
function outcome(fn: () => void, doc: Y.Doc): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return `error ${err.kind}: ${err.message}`;
    throw err;
  }
  return JSON.stringify(renderJson(doc));
}

const copyOf = (doc: Y.Doc): Y.Doc => {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  return copy;
};

const plan = seedPlan(process.env, 300);

test.each(plan.seeds)('seed %i: a batch ends as its operations applied one by one, or fails whole with the first failure', (seed) => {
  const rng = makePrng(seed);
  const doc = new Y.Doc();
  // Content a raw Yjs client wrote (one type per name): its kinds are inferred, not recorded,
  // and an emptied list's cannot be told at all (its items are garbage-collected).
  const shift = rng.int(names.length);
  const rawName = (i: number): string => names[(i + shift) % names.length] as string;
  const raw = new Y.Doc();
  if (rng.chance(0.5)) raw.getMap(rawName(0)).set(rng.pick(keys), 1);
  if (rng.chance(0.5)) raw.getArray(rawName(1)).insert(0, [1, 2]);
  if (rng.chance(0.5)) raw.getText(rawName(2)).insert(0, 'abc');
  if (rng.chance(0.5)) {
    raw.getArray(rawName(3)).insert(0, [1]);
    raw.getArray(rawName(3)).delete(0, 1);
  }
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(raw));
  for (let i = 0; i < 12; i++) {
    try {
      applyOperations(doc, [randomOp(rng)], 'setup');
    } catch {
      // A random operation may not fit the document: the setup only needs some content.
    }
  }
  for (let b = 0; b < 10; b++) {
    const focus = randomPath(rng, 1);
    const batch = Array.from({ length: 2 + rng.int(5) }, () => randomOp(rng, focus));
    const oneByOne = copyOf(doc);
    let expected = '';
    for (const op of batch) {
      expected = outcome(() => applyOperations(oneByOne, [op], 'one'), oneByOne);
      if (expected.startsWith('error')) break;
    }
    const before = Y.encodeStateAsUpdate(doc);
    let updates = 0;
    const count = (): void => void updates++;
    doc.on('update', count);
    const got = outcome(() => applyOperations(doc, batch, 'batch'), doc);
    doc.off('update', count);
    const context = `seed ${seed}, batch ${b}: ${JSON.stringify(batch)}`;
    expect({ context, got }).toEqual({ context, got: expected });
    // One transaction (one update) when it applies, nothing written when it fails.
    expect({ context, atMostOneUpdate: updates <= 1 }).toEqual({ context, atMostOneUpdate: true });
    if (expected.startsWith('error')) expect({ context, unchanged: updates === 0 && Buffer.from(Y.encodeStateAsUpdate(doc)).equals(Buffer.from(before)) }).toEqual({ context, unchanged: true });
  }
});

test('a batch is decided without copying the document unless a top-level kind is unknown', () => {
  const doc = new Y.Doc();
  for (let i = 0; i < 50; i++) applyOperations(doc, [{ kind: 'map-set', path: ['m', `k${i}`], value: i }], 'setup');
  mockEncodes.count = 0;
  applyOperations(doc, [
    { kind: 'map-set', path: ['m', 'k1'], value: 'one' },
    { kind: 'map-set', path: ['m', 'deep', 'k'], value: 'two' },
    { kind: 'list-insert', path: ['items'], index: 0, values: [1] },
    { kind: 'list-insert', path: ['items'], index: 1, values: [2, 3] },
    { kind: 'list-delete', path: ['items'], index: 0, count: 1 },
    { kind: 'counter-add', path: ['m', 'likes'], delta: 2 },
  ], 'batch');
  expect(mockEncodes.count).toBe(0);
  // A later range error is found by the dry runs too: nothing applied, still no copy.
  expect(() => applyOperations(doc, [
    { kind: 'map-set', path: ['m', 'k2'], value: 'lost' },
    { kind: 'list-delete', path: ['items'], index: 1, count: 5 },
  ], 'batch')).toThrow('list range 1..6 is outside its length 2');
  expect(mockEncodes.count).toBe(0);
  // Nor when an operation replaces what a later one resolves through.
  expect(() => applyOperations(doc, [
    { kind: 'map-set', path: ['m', 'deep'], value: 1 },
    { kind: 'map-set', path: ['m', 'deep', 'k'], value: 2 },
  ], 'batch')).toThrow('m.deep is a value, not a map');
  applyOperations(doc, [
    { kind: 'map-delete', path: ['m', 'gone'] },
    { kind: 'map-set', path: ['m', 'gone', 'again'], value: 3 },
    { kind: 'text-insert', path: ['note'], index: 0, text: 'hey' },
    { kind: 'text-delete', path: ['note'], index: 1, length: 2 },
  ], 'batch');
  expect(mockEncodes.count).toBe(0);
  // A top-level type whose kind its content does not tell (an emptied list) needs the copy.
  const raw = new Y.Doc();
  raw.getArray('emptied').insert(0, [1]);
  raw.getArray('emptied').delete(0, 1);
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(raw));
  mockEncodes.count = 0;
  applyOperations(doc, [
    { kind: 'list-insert', path: ['emptied'], index: 0, values: [7] },
    { kind: 'map-set', path: ['m', 'k3'], value: 'three' },
  ], 'batch');
  expect(mockEncodes.count).toBe(1);
  expect(renderJson(doc)).toMatchObject({ emptied: [7], items: [2, 3], note: 'h', m: { k1: 'one', k2: 2, k3: 'three', deep: { k: 'two' }, gone: { again: 3 }, likes: 2 } });
});
