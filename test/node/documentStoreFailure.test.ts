// After a failed write the store answers no read: the change whose write failed is already in
// the document in memory (changes apply before they are stored), and neither a client nor a
// peer may be served a state that a restart can lose. The sync of the documents' log is made to
// fail by injection.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DocumentId } from '../../services/core/crdt/documentId';
import { DomainError } from '../../services/core/errors/DomainError';
import { DocumentStore } from '../../services/node/DocumentStore';
import { LoggedEngine } from '../../services/storage/LoggedEngine';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const doc = 'doc-a' as DocumentId;

async function kindOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    return e instanceof DomainError ? e.kind : `not a DomainError: ${String(e)}`;
  }
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-store-failure-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('after a write whose sync failed, durable(), peek, json and stateHash refuse as unavailable', async () => {
  let failSyncs = false;
  const engine = await LoggedEngine.open(dir, new MemoryEngine(), {
    sync: async (fd) => {
      if (failSyncs) throw new Error('EIO: i/o error, fdatasync');
      fs.fdatasyncSync(fd);
    },
  });
  const store = new DocumentStore({ engine, clientId: 7, hash: sha });
  store.load();
  await store.applyOps(doc, [{ kind: 'map-set', path: ['m', 'k'], value: 1 }]);
  expect(store.json(doc)).toEqual({ m: { k: 1 } });
  failSyncs = true;
  expect(await kindOf(store.applyOps(doc, [{ kind: 'map-set', path: ['m', 'k'], value: 2 }]))).toBe('internal');
  expect(store.failure?.message).toMatch(/EIO/);
  // The document in memory holds k = 2; nothing may read it.
  expect(await kindOf(store.durable(doc))).toBe('unavailable');
  expect(await kindOf(() => store.peek(doc))).toBe('unavailable');
  expect(await kindOf(() => store.json(doc))).toBe('unavailable');
  expect(await kindOf(() => store.stateHash(doc))).toBe('unavailable');
  await engine.close();
});
