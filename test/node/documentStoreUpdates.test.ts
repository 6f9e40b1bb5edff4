// Proves where updates are checked: an update arriving on the node's port (a client's, or a
// peer's push) is refused whole before it touches the document (INVALID_ARGUMENT, nothing changed,
// nothing stored), while a diff the node fetched itself from a peer is applied without the
// pre-decode, yet still fails as malformed when it cannot be applied; whatever Yjs took in is then
// stored at once and the document is marked for anti-entropy. Oversized updates are refused from
// anyone.
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { DocumentId } from '../../services/core/crdt/documentId';
import { peerUpdateBytesMax, updateBytesMax } from '../../services/core/crdt/validateUpdate';
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

test.each(['client', 'remote:n2'] as const)('a malformed update from %s arriving on the port is refused before it changes or stores anything', async (origin) => {
  const { store: s, engine } = store();
  await s.applyUpdate(doc, mapSet('k', 'v'), 'client');
  const before = s.json(doc);
  const keysBefore = [...engine.range({ gte: '', lt: '\uffff' })].length;
  expect(await kindOf(s.applyUpdate(doc, malformed, origin))).toBe('invalid-argument');
  expect(s.json(doc)).toEqual(before);
  expect([...engine.range({ gte: '', lt: '\uffff' })].length).toBe(keysBefore);
});

test('a fetched diff applies without the pre-decode, and a malformed one still fails as malformed, its effect stored', async () => {
  const { store: s, engine } = store();
  await s.applyUpdate(doc, mapSet('k', 'from a peer'), 'remote:n2', 'trusted');
  expect(s.json(doc)).toEqual({ m: { k: 'from a peer' } });
  s.takeDirty();
  const writesBefore = [...engine.range({ gte: '', lt: '\uffff' })].map((e) => e.key).join();
  expect(await kindOf(s.applyUpdate(doc, malformed, 'remote:n2', 'trusted'))).toBe('invalid-argument');
  // Whatever Yjs took in before it threw is stored (a fresh snapshot) and compared again.
  expect(s.takeDirty()).toContain(doc);
  expect([...engine.range({ gte: '', lt: '\uffff' })].map((e) => e.key).join()).not.toBe(writesBefore);
  expect(s.json(doc)).toMatchObject({ m: { k: 'from a peer' } });
});

// A client's update is bounded by the client limit; one from a node (a diff of a whole document
// may be far larger than any client update) by the node-to-node message limit.
test.each([['client', 'check', updateBytesMax], ['remote:n2', 'check', peerUpdateBytesMax], ['remote:n2', 'trusted', peerUpdateBytesMax], ['catch-up', 'trusted', peerUpdateBytesMax]] as const)('an empty or oversized update from %s (%s) is refused', async (origin, trust, max) => {
  const { store: s } = store();
  expect(await kindOf(s.applyUpdate(doc, new Uint8Array(), origin, trust))).toBe('invalid-argument');
  expect(await kindOf(s.applyUpdate(doc, new Uint8Array(max + 1), origin, trust))).toBe('too-large');
});
