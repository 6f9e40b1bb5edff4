// A change reaches the store-wide listeners and the listeners of its own document, and no
// other document's: a node with many watches pays for the watches of the document it changes.
import { createHash } from 'node:crypto';
import { DocumentId } from '../../services/core/crdt/documentId';
import { Change, DocumentStore } from '../../services/node/DocumentStore';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const id = (s: string): DocumentId => s as DocumentId;

function open(): DocumentStore {
  const s = new DocumentStore({ engine: new MemoryEngine(), clientId: 7, hash: sha });
  s.load();
  return s;
}

describe('DocumentStore change listeners', () => {
  it('calls the listeners of the changed document only, after the store-wide ones', async () => {
    const store = open();
    const calls: string[] = [];
    store.onChange((c) => calls.push(`all:${c.docId}`));
    let others = 0;
    for (let i = 0; i < 1000; i++) store.onDocumentChange(id(`other-${i}`), () => others++);
    store.onDocumentChange(id('a'), (c: Change) => calls.push(`a:${c.docId}:${c.origin}`));
    await store.applyOps(id('a'), [{ kind: 'map-set', path: ['m', 'k'], value: 1 }]);
    await store.applyOps(id('b'), [{ kind: 'map-set', path: ['m', 'k'], value: 2 }]);
    expect(calls).toEqual(['all:a', 'a:a:local', 'all:b']);
    expect(others).toBe(0);
  });

  it('stops calling a listener once unsubscribed, also from inside its own call', async () => {
    const store = open();
    let once = 0;
    let kept = 0;
    const off = store.onDocumentChange(id('a'), () => {
      once++;
      off();
    });
    store.onDocumentChange(id('a'), () => kept++);
    for (let i = 0; i < 3; i++) await store.applyOps(id('a'), [{ kind: 'map-set', path: ['m', 'k'], value: i }]);
    expect([once, kept]).toEqual([1, 3]);
    off(); // a second call changes nothing
    await store.applyOps(id('a'), [{ kind: 'map-set', path: ['m', 'k'], value: 9 }]);
    expect([once, kept]).toEqual([1, 4]);
  });
});
