// A responder computes a document's diff for a state vector once while the document stays
// unchanged (two peers that missed the same changes ask with the same vector), and never hands
// out a stale one: any change, even one that leaves the state vector where it was (a delete) or
// that Yjs keeps pending, makes the next diff fresh.
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { DocumentId } from '../../services/core/crdt/documentId';
import { renderJson } from '../../services/core/crdt/renderJson';
import { AntiEntropy } from '../../services/node/AntiEntropy';
import { DocumentStore } from '../../services/node/DocumentStore';
import { TrafficStats } from '../../services/node/TrafficStats';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

const sha = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();
const id = 'doc' as DocumentId;

test('the diff for a state vector is reused while the document is unchanged and recomputed after any change', async () => {
  const store = new DocumentStore({ engine: new MemoryEngine(), clientId: 1, hash: sha });
  const ae = new AntiEntropy('n1', store, sha, new TrafficStats());
  await store.applyOps(id, [{ kind: 'map-set', path: ['m', 'a'], value: 1 }, { kind: 'map-set', path: ['m', 'b'], value: 2 }]);
  const peer = new Y.Doc();
  const sv = Y.encodeStateVector(peer);

  expect(ae.diffFor(id, Y.encodeStateVector(store.peek(id) as Y.Doc))).toBeUndefined();
  const first = ae.diffFor(id, sv);
  expect(ae.diffFor(id, sv)).toBe(first);

  // A delete leaves the state vector as it was: the diff must still carry it.
  const svBefore = Y.encodeStateVector(store.peek(id) as Y.Doc);
  await store.applyOps(id, [{ kind: 'map-delete', path: ['m', 'a'] }]);
  expect(Y.encodeStateVector(store.peek(id) as Y.Doc)).toEqual(svBefore);
  const afterDelete = ae.diffFor(id, sv);
  expect(afterDelete).not.toBe(first);
  Y.applyUpdate(peer, afterDelete as Uint8Array);
  expect(renderJson(peer)).toEqual({ m: { b: 2 } });

  // An update Yjs keeps pending (its dependency is missing) changes the diff too.
  const other = new Y.Doc();
  other.clientID = 99;
  other.getMap('m').set('x', 1);
  const dependency = Y.encodeStateAsUpdate(other);
  const sv99 = Y.encodeStateVector(other);
  other.getMap('m').set('y', 2);
  const dependent = Y.encodeStateAsUpdate(other, sv99);
  const beforePending = ae.diffFor(id, sv);
  await store.applyUpdate(id, dependent, 'remote:n9');
  expect(store.peek(id)?.store.pendingStructs).not.toBeNull();
  const withPending = ae.diffFor(id, sv);
  expect(withPending).not.toBe(beforePending);
  // The pending part travels: a replica that gets the dependency elsewhere then integrates it.
  const replica = new Y.Doc();
  Y.applyUpdate(replica, withPending as Uint8Array);
  Y.applyUpdate(replica, dependency);
  expect(renderJson(replica)).toEqual({ m: { b: 2, x: 1, y: 2 } });
});
