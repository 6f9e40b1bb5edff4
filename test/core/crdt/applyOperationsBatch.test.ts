// A batch of typed operations is all or nothing, decided in place when its operations cannot
// disturb each other and on a scratch copy otherwise. Seeded random batches over a small set of
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

const names = ['a', 'b', 'c'];
const keys = ['x', 'y', 'z'];

function randomPath(rng: Prng, minSegments: number): string[] {
  const length = minSegments + rng.int(3 - minSegments + 1);
  return Array.from({ length }, (_, i) => (i === 0 ? rng.pick(names) : rng.pick(keys)));
}

function randomOp(rng: Prng): TypedOperation {
  const index = rng.int(4);
  switch (rng.int(7)) {
    case 0:
      return { kind: 'map-set', path: randomPath(rng, 2), value: rng.int(100) };
    case 1:
      return { kind: 'map-delete', path: randomPath(rng, 2) };
    case 2:
      return { kind: 'list-insert', path: randomPath(rng, 1), index, values: Array.from({ length: 1 + rng.int(2) }, () => rng.int(10)) };
    case 3:
      return { kind: 'list-delete', path: randomPath(rng, 1), index, count: rng.int(3) };
    case 4:
      return { kind: 'text-insert', path: randomPath(rng, 1), index, text: 'ab'.slice(0, 1 + rng.int(2)) };
    case 5:
      return { kind: 'text-delete', path: randomPath(rng, 1), index, length: rng.int(3) };
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
  // Content a raw Yjs client wrote (one type per name): its kinds are inferred, not recorded.
  const shift = rng.int(names.length);
  const rawName = (i: number): string => names[(i + shift) % names.length] as string;
  if (rng.chance(0.5)) doc.getMap(rawName(0)).set(rng.pick(keys), 1);
  if (rng.chance(0.5)) doc.getArray(rawName(1)).insert(0, [1, 2]);
  if (rng.chance(0.5)) doc.getText(rawName(2)).insert(0, 'abc');
  for (let i = 0; i < 12; i++) {
    try {
      applyOperations(doc, [randomOp(rng)], 'setup');
    } catch {
      // A random operation may not fit the document: the setup only needs some content.
    }
  }
  for (let b = 0; b < 10; b++) {
    const batch = Array.from({ length: 2 + rng.int(5) }, () => randomOp(rng));
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

test('a batch of independent operations is decided without copying the document', () => {
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
  // An operation that replaces what another resolves needs the copy.
  expect(() => applyOperations(doc, [
    { kind: 'map-set', path: ['m', 'deep'], value: 1 },
    { kind: 'map-set', path: ['m', 'deep', 'k'], value: 2 },
  ], 'batch')).toThrow('m.deep is a value, not a map');
  expect(mockEncodes.count).toBe(1);
  expect(renderJson(doc)).toMatchObject({ items: [2, 3], m: { k1: 'one', k2: 2, deep: { k: 'two' }, likes: 2 } });
});
