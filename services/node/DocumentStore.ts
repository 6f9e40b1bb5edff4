import * as Y from 'yjs';
import { applyOperations } from '../core/crdt/applyOperations';
import { DocumentId } from '../core/crdt/documentId';
import { renderJson } from '../core/crdt/renderJson';
import { HashFn, stateHash } from '../core/crdt/stateHash';
import { TypedOperation } from '../core/crdt/typedOperation';
import { checkUpdateSize, peerUpdateBytesMax, updateBytesMax, validateUpdate } from '../core/crdt/validateUpdate';
import { trackDeletes } from '../core/crdt/trackDeletes';
import { encodeVersion } from '../core/crdt/versionToken';
import { DomainError, notApplied } from '../core/errors/DomainError';
import { compareKeys, prefixEnd, StorageEngine, WriteOp } from '../storage/StorageEngine';
import { DocumentCache } from './DocumentCache';
import { KeyCounts } from './KeyCounts';
import { decodeDocumentRecord, DocumentRecord, encodeDocumentRecord } from './documentRecord';
import {
  parseRecordKey, parseSnapshotKey, parseUpdateKey, recordKey, recordPrefix, recordsCompleteKey, snapshotKey, snapshotPrefix,
  updateKey, updatePrefix, updateRange,
} from './storageKeys';

/** Who caused a change: the origin of its Yjs transaction, so nothing is echoed back. */
export type ChangeOrigin = 'local' | 'client' | 'catch-up' | `remote:${string}`;

export interface Change {
  readonly docId: DocumentId;
  readonly update: Uint8Array;
  readonly origin: ChangeOrigin;
  /**
   * The version token taken when the update applied (it names only durable changes now): for
   * local and client writes, and for documents a watcher registered (`watchVersions`). Taking
   * one walks the whole document, so updates from peers go without.
   */
  readonly version: Uint8Array | undefined;
}

export type ChangeListener = (change: Change) => void;

export interface DocumentStoreOptions {
  readonly engine: StorageEngine;
  readonly clientId: number;
  readonly hash: HashFn;
  /**
   * Compact a document's stored updates into one snapshot past this many updates... (both
   * thresholds grow with the snapshot once it is larger than compactBytesMax: see compactionDue)
   */
  readonly compactUpdatesMax?: number;
  /** ...or past this many bytes of updates. */
  readonly compactBytesMax?: number;
  /** Documents kept loaded in memory (least recently used leave first)... */
  readonly cacheDocumentsMax?: number;
  /** ...and most stored bytes of the loaded documents together (their in-memory size grows with it). */
  readonly cacheBytesMax?: number;
}

export const defaultCacheDocumentsMax = 10_000;
export const defaultCacheBytesMax = 256 * 2 ** 20;

/** The Yjs client id documents are replayed under (nodes pick theirs from 1..2^32-2). */
const replayClientId = 0;

/**
 * Changed documents remembered for the next `takeDirty`; past this (no anti-entropy running,
 * e.g. a node without peers) the store forgets them and names every document next time.
 */
const dirtyDocumentsMax = 100_000;

/** How much faster the compaction count threshold grows with the snapshot than the byte one (see compactionDue). */
const compactUpdatesScale = 16;

/** Records per batch when a data directory from before document records is migrated. */
const migrationBatchRecordsMax = 10_000;

interface Entry {
  readonly doc: Y.Doc;
  /** Lowest sequence number that may still be stored (compaction deletes from here). */
  firstSeq: number;
  nextSeq: number;
  storedUpdates: number;
  /** Bytes stored: the snapshot and the updates after it. */
  storedBytes: number;
  /** Bytes of the stored snapshot (0 without one). */
  snapshotBytes: number;
  /** The state hash of the document as it is now; undefined until computed after a change. */
  hash: Uint8Array | undefined;
  /** The latest record written (or in flight) carries the hash of the state as it is now. */
  hashRecorded: boolean;
  /** Whether the document has a record (issued, perhaps not durable yet). */
  recorded: boolean;
  compacting: boolean;
  /** Writes issued and not settled yet: the entry may not leave the cache before they do. */
  writing: number;
  /** Settles when the latest write issued for this document has settled. */
  inFlight: Promise<void>;
  /** Store-wide stamp of the last change to this in-memory document (see changeStamp). */
  changedAt: number;
}

/**
 * The documents of one node: every accepted update appended to storage and fsynced before the
 * caller is answered, compaction of stored updates into snapshots, and change notifications
 * (after the change is durable) for replication, watches and waiters.
 *
 * Documents are loaded on first use and kept in a bounded cache (least recently used leave
 * first); a document with a write in flight or a compaction running never leaves, so what
 * leaves is exactly what storage holds. Each document's record (`d:<doc>`: counters and state
 * hash) is written in the batch of each of its changes, so the count, the listing and the
 * state hashes for the anti-entropy digest come from the records without loading documents.
 */
export class DocumentStore {
  private readonly cache: DocumentCache<Entry>;
  private readonly listeners = new Set<ChangeListener>();
  /** Listeners of one document each (watches, reads waiting for a version): a change calls only its own. */
  private readonly documentListeners = new Map<string, Set<ChangeListener>>();
  /** Documents whose changes carry version tokens (watched), with their watcher counts. */
  private readonly versionWatchers = new KeyCounts<DocumentId>();
  private readonly engine: StorageEngine;
  private readonly clientId: number;
  private readonly hash: HashFn;
  private readonly compactUpdatesMax: number;
  private readonly compactBytesMax: number;
  /**
   * Records issued but perhaps not readable yet (an engine may show a batch only once it is
   * durable): readers consult this first. Each is removed when its latest write settles.
   */
  private readonly unsettled = new Map<string, Uint8Array>();
  private failed: Error | undefined;
  private dirty = new Set<string>();
  /** Until the first takeDirty after load, every stored document counts as changed. */
  private allDirty = false;
  private recordsComplete = false;
  private documentCount = 0;
  private loadsTotal = 0;
  private closing = false;
  private changes = 0;

  constructor(opts: DocumentStoreOptions) {
    this.engine = opts.engine;
    this.clientId = opts.clientId;
    this.hash = opts.hash;
    this.compactUpdatesMax = opts.compactUpdatesMax ?? 500;
    this.compactBytesMax = opts.compactBytesMax ?? 1 << 20;
    this.cache = new DocumentCache<Entry>({
      documentsMax: opts.cacheDocumentsMax ?? defaultCacheDocumentsMax,
      weightMax: opts.cacheBytesMax ?? defaultCacheBytesMax,
      weight: (e) => e.storedBytes,
      evictable: (e) => e.writing === 0 && !e.compacting,
      onEvict: (id, e) => this.recordHash(id as DocumentId, e),
    });
  }

  /**
   * Prepares the store over what storage holds: counts the document records (no document is
   * loaded) and marks every document changed for the first `takeDirty`. A data directory
   * written before records existed is migrated first (each document loaded once, then dropped).
   */
  load(): void {
    this.recordsComplete = this.engine.get(recordsCompleteKey) !== undefined;
    if (!this.recordsComplete) this.migrate();
    let count = 0;
    for (const { key } of this.engine.range({ gte: recordPrefix, lt: prefixEnd(recordPrefix) })) {
      if (!this.unsettled.has(parseRecordKey(key))) count++;
    }
    this.documentCount = count + this.unsettled.size;
    this.allDirty = true;
  }

  /** Calls `listener` after every durable change of any document. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` after every durable change of `docId`. A change calls the listeners of its
   * own document only, so a node with many watches does not pay for all of them on every write.
   */
  onDocumentChange(docId: DocumentId, listener: ChangeListener): () => void {
    let set = this.documentListeners.get(docId);
    if (set === undefined) this.documentListeners.set(docId, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.documentListeners.get(docId);
      if (current === undefined || !current.delete(listener)) return;
      if (current.size === 0) this.documentListeners.delete(docId);
    };
  }

  /** Until the returned function is called, every change of `docId` carries its version token. */
  watchVersions(docId: DocumentId): () => void {
    this.versionWatchers.add(docId);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.versionWatchers.remove(docId);
    };
  }

  has(docId: DocumentId): boolean {
    return this.cache.peek(docId) !== undefined || this.record(docId) !== undefined;
  }

  /**
   * The document (loaded from storage if it is not in memory), or undefined. Callers must not
   * write to it, nor keep it across an await: once idle it may leave the cache, and a later
   * change then goes to a newly loaded copy.
   */
  peek(docId: DocumentId): Y.Doc | undefined {
    this.assertNotFailed();
    return this.entry(docId, false)?.doc;
  }

  /**
   * A number that differs after every change to the document as loaded (and after it is loaded
   * again), so anything derived from it (a diff for some state vector) is valid while it stays
   * the same. Cheaper than the state hash, which walks the whole document. Undefined when the
   * document is not in memory.
   */
  changeStamp(docId: DocumentId): number | undefined {
    return this.cache.peek(docId)?.changedAt;
  }

  /** Documents stored (or being stored) on this node. */
  get size(): number {
    return this.documentCount;
  }

  /** Documents loaded in memory now, documents loaded from storage so far, and evictions. */
  get cacheStats(): { loaded: number; loadedBytes: number; loads: number; evictions: number } {
    return { loaded: this.cache.size, loadedBytes: this.cache.weight, loads: this.loadsTotal, evictions: this.cache.evicted };
  }

  /**
   * Applies typed operations; resolves when the resulting update is durable here, with the
   * version token taken right after the change. Everything that token names was written to
   * storage before (or with) this update, so it is durable when this update is. A write that
   * changes nothing still waits for the changes in flight that its token names.
   */
  async applyOps(docId: DocumentId, ops: readonly TypedOperation[]): Promise<{ update: Uint8Array; version: Uint8Array }> {
    this.assertHealthy();
    const e = this.entry(docId, true);
    const update = captureUpdate(e.doc, () => applyOperations(e.doc, ops, 'local'));
    e.changedAt = ++this.changes;
    const version = encodeVersion(e.doc);
    if (update === undefined) {
      await e.inFlight;
      return { update: new Uint8Array(), version };
    }
    await this.persist(docId, e, update, 'local', version);
    return { update, version };
  }

  /**
   * Applies a Yjs update from a client or a peer; resolves when it is durable here. Updates
   * whose dependencies are missing are stored as they are: Yjs keeps them pending until the
   * missing part arrives (anti-entropy fetches it), and a restart replays them the same way.
   *
   * An update is decoded whole before anything is applied (`check`), so a malformed one changes
   * nothing: whatever arrives on this node's port, from clients or peers. Diffs this node fetched
   * itself from a configured peer (anti-entropy pulls, catch-up reads) are `trusted`: Yjs on
   * that peer made them, and decoding them first cost half as much again as applying them, on
   * every heal. Should a trusted one fail to apply, Yjs may have taken part of it in: that state
   * is stored at once (as the document's snapshot) so memory and disk agree, the document is
   * marked for anti-entropy, and the update is reported as malformed.
   */
  async applyUpdate(docId: DocumentId, update: Uint8Array, origin: 'client', trust?: 'check' | 'trusted'): Promise<Uint8Array>;
  async applyUpdate(docId: DocumentId, update: Uint8Array, origin: ChangeOrigin, trust?: 'check' | 'trusted'): Promise<Uint8Array | undefined>;
  /** Resolves with the version token for a client's update (see Change.version), else when one was taken. */
  async applyUpdate(docId: DocumentId, update: Uint8Array, origin: ChangeOrigin, trust: 'check' | 'trusted' = 'check'): Promise<Uint8Array | undefined> {
    this.assertHealthy();
    // A client's update is bounded by the client limit; one from a node (a push, a diff of a
    // whole document) only by the node-to-node message limit.
    const max = origin === 'client' || origin === 'local' ? updateBytesMax : peerUpdateBytesMax;
    if (trust === 'check') validateUpdate(update, max);
    else checkUpdateSize(update, max);
    const e = this.entry(docId, true);
    try {
      Y.applyUpdate(e.doc, update, origin);
    } catch (err) {
      e.changedAt = ++this.changes;
      e.hash = undefined;
      this.markDirty(docId);
      await this.compact(docId, e);
      validateUpdate(update, max);
      throw err;
    }
    e.changedAt = ++this.changes;
    const version = origin === 'client' || this.versionWatchers.has(docId) ? encodeVersion(e.doc) : undefined;
    await this.persist(docId, e, update, origin, version);
    return version;
  }

  /**
   * Resolves once every change of the document applied so far is durable. Reads wait for it
   * before answering, so no client ever builds on a change a crash could still take away. A
   * document not in memory has nothing in flight. Rejects once storage has failed: a change
   * whose write failed stays in the document in memory, and nothing may answer with it.
   */
  async durable(docId: DocumentId): Promise<void> {
    await this.cache.peek(docId)?.inFlight;
    this.assertNotFailed();
  }

  json(docId: DocumentId): Record<string, unknown> {
    this.assertNotFailed();
    const e = this.entry(docId, false);
    return e === undefined ? {} : renderJson(e.doc);
  }

  /**
   * Hash of the integrated state (state vector + delete set): computed from the document when
   * it is loaded (once per change), else read from its record; a record written without one
   * (the document was in memory when the node stopped without closing) loads the document.
   */
  stateHash(docId: DocumentId): Uint8Array | undefined {
    this.assertNotFailed();
    const cached = this.cache.peek(docId);
    if (cached === undefined) {
      const rec = this.record(docId);
      if (rec === undefined) return undefined;
      if (rec.hash.byteLength > 0) return rec.hash;
    }
    const e = cached ?? this.entry(docId, false);
    if (e === undefined) return undefined;
    e.hash ??= stateHash(e.doc, this.hash);
    return e.hash;
  }

  /** Document ids in the storage key order (code points), from `startAfter` (exclusive), with the given prefix. */
  list(prefix: string, startAfter: string, limit: number): { docId: DocumentId; updates: number; bytes: number }[] {
    const from = compareKeys(startAfter, prefix) >= 0 ? `${startAfter}\u0000` : prefix;
    const ids = new Set<string>();
    for (const { key } of this.engine.range({ gte: recordKey(from), lt: prefixEnd(recordKey(prefix)), limit })) ids.add(parseRecordKey(key));
    for (const id of this.unsettled.keys()) if (id.startsWith(prefix) && compareKeys(id, startAfter) > 0) ids.add(id);
    return [...ids].sort(compareKeys).slice(0, limit).map((id) => {
      const e = this.cache.peek(id);
      if (e !== undefined && e.recorded) return { docId: id as DocumentId, updates: e.storedUpdates, bytes: e.storedBytes };
      const r = this.record(id as DocumentId);
      return { docId: id as DocumentId, updates: r?.storedUpdates ?? 0, bytes: r?.storedBytes ?? 0 };
    });
  }

  /**
   * Documents changed since the last call (for the anti-entropy digest); the first call after
   * `load` names every stored document, whose hashes `stateHash` then reads from the records.
   */
  takeDirty(): string[] {
    // Every changed document has a record (issued with the change), so the full list covers them.
    const out = this.allDirty ? [...this.ids()] : [...this.dirty];
    this.allDirty = false;
    this.dirty = new Set();
    return out;
  }

  /** Every stored document id (including those whose first write is in flight). */
  *ids(): IterableIterator<string> {
    const seen = new Set<string>(this.unsettled.keys());
    yield* seen;
    for (const { key } of this.engine.range({ gte: recordPrefix, lt: prefixEnd(recordPrefix) })) {
      const id = parseRecordKey(key);
      if (!seen.has(id)) yield id;
    }
  }

  /** The document's entry: from the cache, else loaded from storage, else (if `create`) new. */
  private entry(docId: DocumentId, create: true): Entry;
  private entry(docId: DocumentId, create: boolean): Entry | undefined;
  private entry(docId: DocumentId, create: boolean): Entry | undefined {
    const cached = this.cache.get(docId);
    if (cached !== undefined) return cached;
    const rec = this.record(docId);
    if (rec === undefined && !create) return undefined;
    const e = rec === undefined ? this.newEntry(docId) : this.loadEntry(docId, rec);
    this.cache.add(docId, e);
    return e;
  }

  private newEntry(docId: DocumentId): Entry {
    // Passing the guid skips Yjs' random uuid (31 getRandomValues calls per document).
    const doc = new Y.Doc({ gc: true, guid: docId });
    doc.clientID = this.clientId;
    trackDeletes(doc);
    return {
      doc, firstSeq: 1, nextSeq: 1, storedUpdates: 0, storedBytes: 0, snapshotBytes: 0, hash: undefined, hashRecorded: false, recorded: false, compacting: false, writing: 0,
      inFlight: Promise.resolve(), changedAt: ++this.changes,
    };
  }

  /** Loads a document from storage: its snapshot, then its updates in order. */
  private loadEntry(docId: DocumentId, rec: DocumentRecord | undefined): Entry {
    this.loadsTotal++;
    const e = this.newEntry(docId);
    // Stored updates hold this process's own structs once a document was evicted and reloaded;
    // Yjs would take them for another client using our id and switch to a random one. Replay
    // under an id nodes never use, then continue with ours: every struct of ours is durable and
    // replayed, so our clock continues from the stored state.
    e.doc.clientID = replayClientId;
    const snapshot = this.engine.get(snapshotKey(docId));
    if (snapshot !== undefined) {
      Y.applyUpdate(e.doc, snapshot, 'storage');
      e.storedBytes += snapshot.byteLength;
      e.snapshotBytes = snapshot.byteLength;
    }
    let firstSeq: number | undefined;
    for (const { key, value } of this.engine.range(updateRange(docId))) {
      const { seq } = parseUpdateKey(key);
      Y.applyUpdate(e.doc, value, 'storage');
      firstSeq ??= seq;
      e.nextSeq = Math.max(e.nextSeq, seq + 1);
      e.storedUpdates++;
      e.storedBytes += value.byteLength;
    }
    e.doc.clientID = this.clientId;
    e.firstSeq = firstSeq ?? e.nextSeq;
    e.recorded = rec !== undefined;
    e.hash = rec !== undefined && rec.hash.byteLength > 0 ? rec.hash : undefined;
    e.hashRecorded = e.hash !== undefined;
    return e;
  }

  /** The document's record: the one in flight if any, else the stored one. */
  private record(docId: DocumentId): DocumentRecord | undefined {
    const raw = this.unsettled.get(docId) ?? this.engine.get(recordKey(docId));
    return raw === undefined ? undefined : decodeDocumentRecord(raw);
  }

  /**
   * The record of the document as it is now. The state hash goes in when it is known already;
   * a change leaves it out (hashing walks the whole document, too much for every write), and it
   * is written when the document leaves memory or the store closes (`recordHash`).
   */
  private recordOf(e: Entry): Uint8Array {
    e.hashRecorded = e.hash !== undefined;
    return encodeDocumentRecord({ storedUpdates: e.storedUpdates, storedBytes: e.storedBytes, hash: e.hash ?? new Uint8Array() });
  }

  /** Writes the document's record with its state hash (and counters) unless the latest record has them. */
  private recordHash(docId: DocumentId, e: Entry): Promise<void> {
    if (e.hashRecorded || !e.recorded || this.failed !== undefined || this.closing) return Promise.resolve();
    e.hash ??= stateHash(e.doc, this.hash);
    return this.write(docId, e, []);
  }

  /**
   * Issues a write of the document's data ops, with its record unless `withRecord` is false,
   * holding the entry in the cache until it settles. Resolves when durable; a failure stops the
   * store.
   */
  private async write(docId: DocumentId, e: Entry, ops: WriteOp[], withRecord = true): Promise<void> {
    const record = withRecord ? this.recordOf(e) : undefined;
    if (record !== undefined) ops.push({ type: 'put', key: recordKey(docId), value: record });
    if (!e.recorded) {
      e.recorded = true;
      this.documentCount++;
      if (!this.recordsComplete) {
        // Marks the layout as complete; it commits after any migration batch issued before it.
        this.recordsComplete = true;
        ops.push({ type: 'put', key: recordsCompleteKey, value: new Uint8Array([1]) });
      }
    }
    if (record !== undefined) this.unsettled.set(docId, record);
    const written = this.engine.write(ops);
    // Writes commit in the order they are issued, so the last one stands for all before it.
    e.inFlight = written.catch(() => undefined);
    e.writing++;
    try {
      await written;
    } catch (err) {
      if (this.closing) throw new DomainError('unavailable', 'this node is stopping');
      this.fail(err as Error);
    } finally {
      e.writing--;
      if (record !== undefined && this.unsettled.get(docId) === record) this.unsettled.delete(docId);
    }
  }

  private markDirty(docId: DocumentId): void {
    if (this.allDirty) return;
    this.dirty.add(docId);
    if (this.dirty.size > dirtyDocumentsMax) {
      this.allDirty = true;
      this.dirty = new Set();
    }
  }

  private async persist(docId: DocumentId, e: Entry, update: Uint8Array, origin: ChangeOrigin, version: Uint8Array | undefined): Promise<void> {
    this.markDirty(docId);
    const seq = e.nextSeq++;
    e.storedUpdates++;
    e.storedBytes += update.byteLength;
    this.cache.reweigh(update.byteLength);
    // The record goes with the update only when it must change: the document's first write, or
    // a stored hash this change makes stale. Its counters catch up when the document leaves
    // memory, compacts or the store closes (only `List` reads them for documents not loaded).
    const withRecord = !e.recorded || e.hashRecorded;
    e.hash = undefined;
    e.writing++; // held through the listeners and the compaction check below
    try {
      await this.write(docId, e, [{ type: 'put', key: updateKey(docId, seq), value: update }], withRecord);
      const change: Change = { docId, update, origin, version };
      for (const l of this.listeners) l(change);
      const own = this.documentListeners.get(docId);
      if (own !== undefined) for (const l of own) l(change);
      if (this.compactionDue(e)) void this.compact(docId, e);
    } finally {
      e.writing--;
      this.cache.trim();
    }
  }

  /**
   * Compaction encodes and writes the whole document, so its thresholds grow with the snapshot:
   * it is due when the updates stored since hold as many bytes as the snapshot (Redis rewrites
   * its log at 100% growth; at least compactBytesMax), or number compactUpdatesMax per
   * 1/16 of compactBytesMax of snapshot (64 KiB by default). Fixed thresholds had a document
   * larger than compactBytesMax compact on every write; a count growing only per compactBytesMax
   * still rewrote a text of 100,000 edits (1.28 MB, 150 ms of encoding) every 640 small writes,
   * a fifth of its peers' CPU under a steady trickle of them. Replaying the updates a count
   * allows costs less than loading the snapshot they sit on.
   */
  private compactionDue(e: Entry): boolean {
    const bytesScale = Math.max(1, e.snapshotBytes / this.compactBytesMax);
    const updatesScale = Math.max(1, (e.snapshotBytes * compactUpdatesScale) / this.compactBytesMax);
    return e.storedUpdates > this.compactUpdatesMax * updatesScale || e.storedBytes - e.snapshotBytes > this.compactBytesMax * bytesScale;
  }

  /** Replaces the stored updates of a document by one snapshot of its state (tombstones GC'd). */
  private async compact(docId: DocumentId, e: Entry): Promise<void> {
    if (e.compacting) return;
    e.compacting = true;
    try {
      const upTo = e.nextSeq - 1;
      // encodeStateAsUpdate includes the structs and deletes still pending (waiting for missing
      // dependencies), so nothing a peer or client sent is dropped by compaction.
      const snapshot = Y.encodeStateAsUpdate(e.doc);
      const ops: WriteOp[] = [{ type: 'put', key: snapshotKey(docId), value: snapshot }];
      // Every update up to `upTo` was issued before this batch, so deleting by key is ordered
      // after its put even if it is not durable yet. Updates issued later stay stored; the next
      // compaction folds them in.
      for (let seq = e.firstSeq; seq <= upTo; seq++) ops.push({ type: 'del', key: updateKey(docId, seq) });
      this.cache.reweigh(snapshot.byteLength - e.storedBytes);
      e.firstSeq = upTo + 1;
      e.storedUpdates = 0;
      e.storedBytes = snapshot.byteLength;
      e.snapshotBytes = snapshot.byteLength;
      await this.write(docId, e, ops);
    } catch (err) {
      if (this.failed === undefined && !this.closing) this.fail(err as Error);
    } finally {
      e.compacting = false;
      this.cache.trim();
    }
  }

  /**
   * Writes the records of a data directory from before records existed: every document found
   * by its snapshot or updates is loaded once, hashed and dropped. Readers see the records at
   * once (through `unsettled`); the completion mark goes in the last batch.
   */
  private migrate(): void {
    const ids = new Set<string>();
    for (const { key } of this.engine.range({ gte: snapshotPrefix, lt: prefixEnd(snapshotPrefix) })) ids.add(parseSnapshotKey(key));
    for (const { key } of this.engine.range({ gte: updatePrefix, lt: prefixEnd(updatePrefix) })) ids.add(parseUpdateKey(key).docId);
    if (ids.size === 0) return;
    let ops: WriteOp[] = [];
    const flush = (last: boolean): void => {
      if (last) ops.push({ type: 'put', key: recordsCompleteKey, value: new Uint8Array([1]) });
      const batch = ops;
      ops = [];
      this.engine.write(batch).then(() => {
        for (const op of batch) if (op.type === 'put' && this.unsettled.get(parseRecordKey(op.key)) === op.value) this.unsettled.delete(parseRecordKey(op.key));
      }, (err: unknown) => {
        this.failed ??= err as Error;
      });
    };
    for (const id of ids) {
      if (this.engine.get(recordKey(id)) !== undefined) continue; // an interrupted migration wrote it
      const e = this.loadEntry(id as DocumentId, undefined);
      const record = this.recordOf(e);
      this.unsettled.set(id, record);
      ops.push({ type: 'put', key: recordKey(id), value: record });
      if (ops.length >= migrationBatchRecordsMax) flush(false);
    }
    flush(true);
    this.recordsComplete = true;
  }

  private fail(err: Error): never {
    // A failed fsync is never retried: the node must stop (the owner watches `failure`).
    this.failed = err;
    throw new DomainError('internal', `storage failed: ${err.message}`);
  }

  get failure(): Error | undefined {
    return this.failed;
  }

  /** Stops taking changes before the engine closes: later calls fail as "stopping", not as a storage failure. */
  /**
   * Stops taking changes after writing the state hash into the record of every document still
   * in memory, so the next start rebuilds the digest without loading any of them.
   */
  async close(): Promise<void> {
    const pending = [...this.cache.all()].map(([id, e]) => this.recordHash(id as DocumentId, e).catch(() => undefined));
    this.closing = true;
    await Promise.all(pending);
  }

  private assertHealthy(): void {
    if (this.closing) throw new DomainError('unavailable', 'this node is stopping', notApplied);
    this.assertNotFailed();
  }

  /** Reads stop too once a write failed: documents in memory may hold its change. */
  private assertNotFailed(): void {
    if (this.failed !== undefined) throw new DomainError('unavailable', 'storage has failed; this node is stopping', notApplied);
  }
}

/** Runs `fn` and returns the Yjs update it produced, if any. */
function captureUpdate(doc: Y.Doc, fn: () => void): Uint8Array | undefined {
  let update: Uint8Array | undefined;
  const handler = (u: Uint8Array, origin: unknown): void => {
    if (origin === 'local') update = u;
  };
  doc.on('update', handler);
  try {
    fn();
  } finally {
    doc.off('update', handler);
  }
  return update;
}
