// Proves that the DocumentStore loads documents lazily and keeps a bounded cache: evicted
// documents reload with the same content and hash, state hashes, counts and listings come from
// the per-document records without loading anything, compaction still folds updates into a
// snapshot across evictions, and a restart rebuilds the same anti-entropy digest without loading
// a document. Each case runs over MemoryEngine and over LMDB in a temporary directory.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as Y from 'yjs';
import { decodeDocumentRecord, type DocumentRecord } from '../../services/node/documentRecord';
import { DigestIndex, digestLeafLevel } from '../../services/core/crdt/DigestIndex';
import { DocumentId } from '../../services/core/crdt/documentId';
import { stateHash } from '../../services/core/crdt/stateHash';
import { DocumentStore, DocumentStoreOptions } from '../../services/node/DocumentStore';
import { recordKey, snapshotKey, updateKey } from '../../services/node/storageKeys';
import { LmdbEngine } from '../../services/storage/LmdbEngine';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { prefixEnd, StorageEngine } from '../../services/storage/StorageEngine';

const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const id = (n: number): DocumentId => `doc-${String(n).padStart(3, '0')}` as DocumentId;

interface Disk {
  readonly engine: StorageEngine;
  /** The engine as a restarted process would see it (the old one is closed). */
  reopen(): Promise<StorageEngine>;
  cleanup(): Promise<void>;
}

const disks: [string, () => Disk][] = [
  ['MemoryEngine', () => {
    let engine = new MemoryEngine();
    return {
      engine,
      reopen: async () => {
        engine = engine.snapshot();
        return engine;
      },
      cleanup: () => engine.close(),
    };
  }],
  ['LmdbEngine', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-docstore-'));
    let engine = LmdbEngine.open(dir);
    return {
      engine,
      reopen: async () => {
        await engine.close();
        engine = LmdbEngine.open(dir);
        return engine;
      },
      cleanup: async () => {
        await engine.close().catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }],
];

let clientIds = 0;

/** A store as a (re)started node opens it: with a fresh Yjs client id. */
function open(engine: StorageEngine, opts: Partial<DocumentStoreOptions> = {}): DocumentStore {
  const store = new DocumentStore({ engine, clientId: ++clientIds, hash: sha, ...opts });
  store.load();
  return store;
}

/** The digest root the anti-entropy refresh would build from this store. */
function digestRoot(store: DocumentStore): string {
  const index = new DigestIndex(sha);
  for (const docId of store.takeDirty()) {
    const h = store.stateHash(docId as DocumentId);
    if (h !== undefined) index.set(docId, h);
  }
  const leaves = Array.from({ length: 16 ** digestLeafLevel }, (_, i) => i);
  return Buffer.concat([...index.hashesAt(0, [0]), ...index.hashesAt(digestLeafLevel, leaves)]).toString('hex');
}

describe.each(disks)('DocumentStore cache over %s', (_name, makeDisk) => {
  let disk: Disk;
  beforeEach(() => {
    disk = makeDisk();
  });
  afterEach(async () => {
    await disk.cleanup();
  });

  test('evicts idle documents past the count bound and reloads them unchanged', async () => {
    const store = open(disk.engine, { cacheDocumentsMax: 4 });
    const hashes = new Map<DocumentId, Uint8Array>();
    for (let i = 0; i < 20; i++) {
      await store.applyOps(id(i), [{ kind: 'map-set', path: ['m', 'v'], value: i }, { kind: 'counter-add', path: ['c'], delta: i }]);
      await store.applyOps(id(i), [{ kind: 'map-delete', path: ['m', 'v'] }, { kind: 'map-set', path: ['m', 'w'], value: `w${i}` }]);
      hashes.set(id(i), store.stateHash(id(i)) as Uint8Array);
    }
    expect(store.cacheStats.loaded).toBeLessThanOrEqual(4);
    expect(store.cacheStats.evictions).toBe(16);
    const loadsBefore = store.cacheStats.loads;
    // Hashes, count and listing of evicted documents come from their records.
    for (const [docId, h] of hashes) expect(store.stateHash(docId)).toEqual(h);
    expect(store.size).toBe(20);
    expect(store.list('doc-00', '', 100).map((d) => [d.docId, d.updates])).toEqual(
      Array.from({ length: 10 }, (_, i) => [id(i), 2]),
    );
    expect(store.cacheStats.loads).toBe(loadsBefore);
    // A reload shows the same content, and its hash recomputed from the document agrees.
    for (let i = 0; i < 20; i++) {
      expect(store.json(id(i))).toEqual({ c: i, m: { w: `w${i}` } });
      expect(stateHash(store.peek(id(i)) as never, sha)).toEqual(hashes.get(id(i)));
    }
    expect(store.cacheStats.loads).toBe(loadsBefore + 20);
    // A reloaded document keeps writing under this store's client id, continuing its clock.
    await store.applyOps(id(0), [{ kind: 'map-set', path: ['m', 'x'], value: 1 }]);
    const doc = store.peek(id(0)) as Y.Doc;
    expect(doc.clientID).toBe(clientIds);
    expect([...Y.decodeStateVector(Y.encodeStateVector(doc)).keys()]).toEqual([clientIds]);
    expect(store.peek(id(99))).toBeUndefined();
    expect(store.has(id(99))).toBe(false);
    expect(store.has(id(3))).toBe(true);
  });

  test('bounds the cache by stored bytes too', async () => {
    const store = open(disk.engine, { cacheDocumentsMax: 1000, cacheBytesMax: 2_000 });
    for (let i = 0; i < 10; i++) await store.applyOps(id(i), [{ kind: 'map-set', path: ['m', 'v'], value: 'x'.repeat(500) }]);
    expect(store.cacheStats.loadedBytes).toBeLessThanOrEqual(2_000);
    expect(store.cacheStats.loaded).toBeLessThan(10);
    for (let i = 0; i < 10; i++) expect(store.json(id(i))).toEqual({ m: { v: 'x'.repeat(500) } });
  });

  test('compacts across evictions: the snapshot replaces the updates it folds in', async () => {
    const store = open(disk.engine, { cacheDocumentsMax: 1, compactUpdatesMax: 5 });
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3; i++) {
        for (let k = 0; k < 3; k++) await store.applyOps(id(i), [{ kind: 'counter-add', path: ['c'], delta: 1 }]);
      }
    }
    // A compaction issues its write before the write that started it resolves; wait for it.
    for (let i = 0; i < 3; i++) await store.durable(id(i));
    for (let i = 0; i < 3; i++) {
      expect(disk.engine.get(snapshotKey(id(i)))).toBeDefined();
      const updates = [...disk.engine.range({ gte: updateKey(id(i), 0), lt: updateKey(id(i), 1e6) })];
      expect(updates.length).toBeLessThanOrEqual(5);
      expect(store.json(id(i))).toEqual({ c: 12 });
    }
    const restarted = open(await disk.reopen());
    for (let i = 0; i < 3; i++) expect(restarted.json(id(i))).toEqual({ c: 12 });
  });

  test('a document larger than the byte threshold compacts once its updates match its snapshot, not on every write', async () => {
    let engine = disk.engine;
    const storedUpdates = (): number => [...engine.range({ gte: updateKey(id(1), 0), lt: updateKey(id(1), 1e6), keysOnly: true })].length;
    const settle = async (s: DocumentStore): Promise<void> => {
      // A compaction issues its write after the write that started it; let it be issued, then wait.
      await new Promise((r) => setImmediate(r));
      await s.durable(id(1));
    };
    let store = open(engine, { compactBytesMax: 1_000, compactUpdatesMax: 1_000 });
    await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', 'big'], value: 'x'.repeat(6_000) }]);
    await settle(store);
    const snapshot = engine.get(snapshotKey(id(1)))?.byteLength ?? 0;
    expect(snapshot).toBeGreaterThan(6_000);
    expect(storedUpdates()).toBe(0);
    // Small writes stay stored as updates until they add up to the snapshot's size...
    for (let i = 0; i < 20; i++) await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', `k${i}`], value: 'y'.repeat(100) }]);
    await settle(store);
    expect(storedUpdates()).toBe(20);
    // ...also after a restart (the snapshot's size is read back when the document loads).
    engine = await disk.reopen();
    store = open(engine, { compactBytesMax: 1_000, compactUpdatesMax: 1_000 });
    for (let i = 20; i < 40; i++) await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', `k${i}`], value: 'y'.repeat(100) }]);
    await settle(store);
    expect(storedUpdates()).toBe(40);
    let writes = 40;
    while (writes < 80 && storedUpdates() > 0) {
      await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', `k${writes++}`], value: 'y'.repeat(100) }]);
      await settle(store);
    }
    // Compacted once the updates' bytes passed the snapshot's, every write kept.
    expect(storedUpdates()).toBe(0);
    expect(writes * 100).toBeGreaterThan(snapshot - 1_000);
    expect(Object.keys((open(await disk.reopen()).json(id(1)) as { m: object }).m)).toHaveLength(writes + 1);
  });

  test('the number of small writes a document takes before compacting grows with its snapshot, 16 times as fast as the bytes', async () => {
    const engine = disk.engine;
    const storedUpdates = (): number => [...engine.range({ gte: updateKey(id(1), 0), lt: updateKey(id(1), 1e6), keysOnly: true })].length;
    // 500 updates per 1,000 B of snapshot at most (1/16 of the 16,000 B byte threshold), 5 at least.
    const store = open(engine, { compactBytesMax: 16_000, compactUpdatesMax: 5 });
    await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', 'big'], value: 'x'.repeat(6_000) }]);
    for (let i = 0; i < 5; i++) await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', `k${i}`], value: i }]);
    await new Promise((r) => setImmediate(r));
    await store.durable(id(1));
    // The document's first writes compacted it into a snapshot of about 6 KB...
    const snapshot = engine.get(snapshotKey(id(1)))?.byteLength ?? 0;
    expect(snapshot).toBeGreaterThan(6_000);
    expect(snapshot).toBeLessThan(7_000);
    // ...which allows 5 x 6 = 30 updates (a count growing only per 16,000 B would allow 5).
    let writes = 0;
    for (; writes < 28; writes++) await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', `w${writes}`], value: writes }]);
    await store.durable(id(1));
    expect(storedUpdates()).toBe(28);
    while (writes < 40 && storedUpdates() > 0) {
      await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', `w${writes++}`], value: writes }]);
      await new Promise((r) => setImmediate(r));
      await store.durable(id(1));
    }
    expect(storedUpdates()).toBe(0);
    expect(writes).toBeGreaterThan(29);
    expect(writes).toBeLessThan(33);
  });

  test('a restart rebuilds an equal digest from the records without loading a document', async () => {
    const store = open(disk.engine, { cacheDocumentsMax: 8 });
    for (let i = 0; i < 60; i++) {
      await store.applyOps(id(i), [{ kind: 'map-set', path: ['m', 'v'], value: i }]);
      if (i % 3 === 0) await store.applyOps(id(i), [{ kind: 'text-insert', path: ['t'], index: 0, text: 'abc' }, { kind: 'text-delete', path: ['t'], index: 1, length: 1 }]);
    }
    const before = digestRoot(store);
    await store.close();
    const restarted = open(await disk.reopen(), { cacheDocumentsMax: 8 });
    expect(restarted.size).toBe(60);
    expect(digestRoot(restarted)).toBe(before);
    expect(restarted.cacheStats.loads).toBe(0);
    expect(restarted.list('', id(57), 10).map((d) => d.docId)).toEqual([id(58), id(59)]);
    expect(restarted.cacheStats.loads).toBe(0);
    // After the first call only changed documents are dirty again.
    await restarted.applyOps(id(5), [{ kind: 'map-set', path: ['m', 'v'], value: 'changed' }]);
    expect(restarted.takeDirty()).toEqual([id(5)]);
    // A loaded document computes its new hash on demand (its record gets it when it leaves).
    expect(restarted.stateHash(id(5))).toEqual(stateHash(restarted.peek(id(5)) as never, sha));
  });

  test('writes do not hash the document; the hash is computed once when asked, and recorded when it leaves', async () => {
    let hashed = 0;
    const counting = (b: Uint8Array): Uint8Array => (hashed++, sha(b));
    const store = open(disk.engine, { cacheDocumentsMax: 2, hash: counting });
    for (let i = 0; i < 50; i++) await store.applyOps(id(0), [{ kind: 'map-set', path: ['m', `k${i % 5}`], value: i }]);
    expect(hashed).toBe(0);
    const h = store.stateHash(id(0));
    expect(store.stateHash(id(0))).toBe(h);
    expect(hashed).toBe(1);
    // Two other documents push it out of memory: its record gets the hash it already has.
    await store.applyOps(id(1), [{ kind: 'map-set', path: ['m', 'v'], value: 1 }]);
    await store.applyOps(id(2), [{ kind: 'map-set', path: ['m', 'v'], value: 2 }]);
    expect(store.cacheStats.evictions).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 20));
    const loadsBefore = store.cacheStats.loads;
    expect(store.stateHash(id(0))).toEqual(h);
    expect(store.cacheStats.loads).toBe(loadsBefore);
    expect(hashed).toBe(1);
  });

  test('a write carries the record only when it must change; close brings its counters up to date', async () => {
    const store = open(disk.engine, { cacheDocumentsMax: 4 });
    for (let i = 0; i < 10; i++) await store.applyOps(id(0), [{ kind: 'map-set', path: ['m', 'v'], value: i }]);
    const stored = (): DocumentRecord => decodeDocumentRecord(disk.engine.get(recordKey(id(0))) as Uint8Array);
    // The first write created it (no hash, one update); the next nine left it alone.
    expect(stored()).toMatchObject({ storedUpdates: 1, hash: new Uint8Array() });
    expect(store.list('', '', 10)).toEqual([{ docId: id(0), updates: 10, bytes: expect.any(Number) }]);
    await store.close();
    expect(stored().storedUpdates).toBe(10);
    expect(stored().hash.byteLength).toBeGreaterThan(0);
  });

  test('after a stop without close, only the documents that were in memory load to rebuild the digest', async () => {
    const store = open(disk.engine, { cacheDocumentsMax: 8 });
    for (let i = 0; i < 40; i++) await store.applyOps(id(i), [{ kind: 'map-set', path: ['m', 'v'], value: i }]);
    // Evicted documents got their hash into their record as they left; the last 8 did not.
    const before = digestRoot(store);
    const restarted = open(await disk.reopen(), { cacheDocumentsMax: 8 });
    expect(digestRoot(restarted)).toBe(before);
    expect(restarted.cacheStats.loads).toBeGreaterThan(0);
    expect(restarted.cacheStats.loads).toBeLessThanOrEqual(8);
  });

  test('migrates a data directory written before document records', async () => {
    // Write documents, then remove their records and the completion mark: the old layout.
    const old = open(disk.engine, { compactUpdatesMax: 2 });
    for (let i = 0; i < 12; i++) {
      for (let k = 0; k < 1 + (i % 4); k++) await old.applyOps(id(i), [{ kind: 'counter-add', path: ['c'], delta: 1 }]);
    }
    for (let i = 0; i < 12; i++) await old.durable(id(i));
    const before = digestRoot(old);
    const records = [...disk.engine.range({ gte: 'd:', lt: prefixEnd('d:') })].map((e) => ({ type: 'del' as const, key: e.key }));
    await disk.engine.write([...records, { type: 'del', key: 'n:document-records' }]);
    expect(disk.engine.get(recordKey(id(0)))).toBeUndefined();

    const migrated = open(await disk.reopen(), { cacheDocumentsMax: 2 });
    expect(migrated.size).toBe(12);
    expect(migrated.cacheStats.loaded).toBe(0);
    expect(digestRoot(migrated)).toBe(before);
    await migrated.applyOps(id(0), [{ kind: 'counter-add', path: ['c'], delta: 1 }]);
    // The migration is durable: the next start neither migrates nor loads.
    const next = open(await disk.reopen());
    expect(next.cacheStats.loads).toBe(0);
    expect(next.size).toBe(12);
    for (let i = 0; i < 12; i++) expect(next.json(id(i))).toEqual({ c: 1 + (i % 4) + (i === 0 ? 1 : 0) });
  });
});
