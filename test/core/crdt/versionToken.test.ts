// Version tokens cover inserts and deletes: a replica that lacks an earlier delete is "behind".
import * as Y from 'yjs';
import { applyOperations } from '../../../services/core/crdt/applyOperations';
import { decodeVersion, encodeVersion, versionCovered } from '../../../services/core/crdt/versionToken';
import { validateUpdate } from '../../../services/core/crdt/validateUpdate';
import { stateHash } from '../../../services/core/crdt/stateHash';
import { createHash } from 'node:crypto';

const sha = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

test('a token covers inserts and deletes; round trip through bytes', () => {
  const a = new Y.Doc();
  applyOperations(a, [{ kind: 'text-insert', path: ['t'], index: 0, text: 'abc' }], 'local');
  const b = new Y.Doc();
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  expect(versionCovered(b, decodeVersion(encodeVersion(a)))).toBe(true);
  expect(stateHash(a, sha)).toEqual(stateHash(b, sha));
  applyOperations(a, [{ kind: 'text-delete', path: ['t'], index: 0, length: 1 }], 'local');
  // Same state vector, but b lacks the delete: not covered, and the hashes differ.
  expect(Y.encodeStateVector(a)).toEqual(Y.encodeStateVector(b));
  expect(versionCovered(b, decodeVersion(encodeVersion(a)))).toBe(false);
  expect(stateHash(a, sha)).not.toEqual(stateHash(b, sha));
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  expect(versionCovered(b, decodeVersion(encodeVersion(a)))).toBe(true);
  expect(stateHash(a, sha)).toEqual(stateHash(b, sha));
});

test('malformed tokens and updates are invalid arguments', () => {
  expect(() => decodeVersion(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(/version token/);
  expect(() => validateUpdate(new Uint8Array([1, 2, 3]))).toThrow(/malformed Yjs update/);
  expect(() => validateUpdate(Buffer.from('garbage garbage'))).toThrow(/malformed Yjs update/);
  expect(() => validateUpdate(new Uint8Array())).toThrow(/empty/);
  const d = new Y.Doc();
  d.getMap('m').set('a', 1);
  expect(() => validateUpdate(Y.encodeStateAsUpdate(d))).not.toThrow();
});
