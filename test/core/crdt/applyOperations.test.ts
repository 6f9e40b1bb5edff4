// Typed operations change a Y.Doc as documented, reject bad input without touching the document,
// and replicas that exchange updates render identical JSON (counters add up across replicas).
import * as Y from 'yjs';
import { applyOperations } from '../../../services/core/crdt/applyOperations';
import { renderJson } from '../../../services/core/crdt/renderJson';
import { TypedOperation } from '../../../services/core/crdt/typedOperation';
import { DomainError } from '../../../services/core/errors/DomainError';

const set = (path: string[], value: unknown): TypedOperation => ({ kind: 'map-set', path, value });

function sync(a: Y.Doc, b: Y.Doc): void {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

function kindOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.kind;
    throw err;
  }
  return 'ok';
}

test('map, list, text and counter operations render as JSON', () => {
  const doc = new Y.Doc();
  applyOperations(doc, [set(['order', 'title'], 'lunch'), set(['order', 'meta', 'by'], 'ann')], 'local');
  applyOperations(doc, [{ kind: 'list-insert', path: ['items'], index: 0, values: [{ n: 'tea' }, 2] }], 'local');
  applyOperations(doc, [{ kind: 'text-insert', path: ['note'], index: 0, text: 'hello world' }], 'local');
  applyOperations(doc, [{ kind: 'text-delete', path: ['note'], index: 5, length: 6 }], 'local');
  applyOperations(doc, [{ kind: 'counter-add', path: ['views'], delta: 3 }], 'local');
  applyOperations(doc, [{ kind: 'counter-add', path: ['order', 'likes'], delta: -1 }], 'local');
  expect(renderJson(doc)).toEqual({
    items: [{ n: 'tea' }, 2],
    note: 'hello',
    order: { likes: -1, meta: { by: 'ann' }, title: 'lunch' },
    views: 3,
  });
});

test('concurrent counter adds on three replicas all count', () => {
  const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
  docs.forEach((d, i) => applyOperations(d, [{ kind: 'counter-add', path: ['c'], delta: i + 1 }], 'local'));
  sync(docs[0]!, docs[1]!);
  sync(docs[1]!, docs[2]!);
  sync(docs[0]!, docs[2]!);
  for (const d of docs) expect(renderJson(d)).toEqual({ c: 6 });
  expect(JSON.stringify(renderJson(docs[0]!))).toBe(JSON.stringify(renderJson(docs[2]!)));
});

test('replicas render identical JSON for content they received but never instantiated', () => {
  const a = new Y.Doc();
  applyOperations(a, [{ kind: 'text-insert', path: ['t'], index: 0, text: 'x' }], 'local');
  applyOperations(a, [{ kind: 'text-delete', path: ['t'], index: 0, length: 1 }], 'local');
  applyOperations(a, [{ kind: 'list-insert', path: ['l'], index: 0, values: [1] }], 'local');
  const b = new Y.Doc();
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  expect(renderJson(b)).toEqual(renderJson(a));
  expect(renderJson(b)).toEqual({ l: [1], t: '' });
});

test('bad operations are rejected and change nothing', () => {
  const doc = new Y.Doc();
  applyOperations(doc, [set(['m', 'k'], 1)], 'local');
  const before = Y.encodeStateAsUpdate(doc);
  expect(kindOf(() => applyOperations(doc, [{ kind: 'text-insert', path: ['m'], index: 0, text: 'x' }], 'l'))).toBe('wrong-type');
  expect(kindOf(() => applyOperations(doc, [set(['m', 'k', 'deeper'], 1)], 'l'))).toBe('wrong-type');
  expect(kindOf(() => applyOperations(doc, [{ kind: 'list-insert', path: ['newlist'], index: 3, values: [1] }], 'l'))).toBe('invalid-argument');
  expect(kindOf(() => applyOperations(doc, [set(['onlyone'], 1)], 'l'))).toBe('invalid-argument');
  expect(kindOf(() => applyOperations(doc, [{ kind: 'counter-add', path: ['c'], delta: NaN }], 'l'))).toBe('invalid-argument');
  // A batch whose second operation fails leaves no trace of the first one.
  expect(kindOf(() => applyOperations(doc, [set(['m', 'k2'], 2), { kind: 'text-delete', path: ['m2'], index: 1, length: 1 }], 'l'))).toBe('invalid-argument');
  expect(Buffer.from(Y.encodeStateAsUpdate(doc)).equals(Buffer.from(before))).toBe(true);
  expect(renderJson(doc)).toEqual({ m: { k: 1 } });
});
