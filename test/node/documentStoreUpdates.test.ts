// Proves where updates are checked: a client's malformed update is refused whole before it
// touches the document (INVALID_ARGUMENT, nothing changed, nothing stored), while a peer's update
// is applied without the pre-decode yet still fails as malformed when it cannot be applied, and
// leaves the document marked for anti-entropy. Oversized updates are refused from anyone.
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { DocumentId } from '../../services/core/crdt/documentId';
import { updateBytesMax } from '../../services/core/crdt/validateUpdate';
import { DomainError } from '../../services/core/errors/DomainError';
import { DocumentStore } from '../../services/node/DocumentStore';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const doc = 'doc-a' as DocumentId;

function store(): { store: DocumentStore; engine: MemoryEngine } {
  const engine = new MemoryEngine();
  const s = new DocumentStore({ engine, clientId: 7, hash: sha });
  s.load();
  return { store: s, engine };
}

function mapSet(key: string, value: string): Uint8Array {
  const d = new Y.Doc();
  d.getMap('m').set(key, value);
  return Y.encodeStateAsUpdate(d);
}

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof DomainError ? e.kind : `not a DomainError: ${String(e)}`;
  }
}

// A struct section claiming one client with an absurd struct count: Yjs throws while reading.
const malformed = new Uint8Array([1, 200, 200, 200, 200, 15, 3, 9, 9]);

test('a malformed client update is refused before it changes or stores anything', async () => {
  const { store: s, engine } = store();
  await s.applyUpdate(doc, mapSet('k', 'v'), 'client');
  const before = s.json(doc);
  const keysBefore = [...engine.range({ gte: '', lt: '\uffff' })].length;
  expect(await kindOf(s.applyUpdate(doc, malformed, 'client'))).toBe('invalid-argument');
  expect(s.json(doc)).toEqual(before);
  expect([...engine.range({ gte: '', lt: '\uffff' })].length).toBe(keysBefore);
});

test("a peer's update applies without the pre-decode, and a malformed one still fails as malformed", async () => {
  const { store: s } = store();
  await s.applyUpdate(doc, mapSet('k', 'from a peer'), 'remote:n2');
  expect(s.json(doc)).toEqual({ m: { k: 'from a peer' } });
  s.takeDirty();
  expect(await kindOf(s.applyUpdate(doc, malformed, 'remote:n2'))).toBe('invalid-argument');
  // Whatever Yjs took in before it threw, anti-entropy will compare this document again.
  expect(s.takeDirty()).toContain(doc);
  expect(s.json(doc)).toMatchObject({ m: { k: 'from a peer' } });
});

test.each(['client', 'remote:n2', 'catch-up'] as const)('an empty or oversized update from %s is refused', async (origin) => {
  const { store: s } = store();
  expect(await kindOf(s.applyUpdate(doc, new Uint8Array(), origin))).toBe('invalid-argument');
  expect(await kindOf(s.applyUpdate(doc, new Uint8Array(updateBytesMax + 1), origin))).toBe('too-large');
});
