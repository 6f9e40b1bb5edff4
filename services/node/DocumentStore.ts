import * as Y from 'yjs';
import { applyOperations } from '../core/crdt/applyOperations';
import { DocumentId } from '../core/crdt/documentId';
import { renderJson } from '../core/crdt/renderJson';
import { HashFn, stateHash } from '../core/crdt/stateHash';
import { TypedOperation } from '../core/crdt/typedOperation';
import { validateUpdate } from '../core/crdt/validateUpdate';
import { encodeVersion } from '../core/crdt/versionToken';
import { DomainError } from '../core/errors/DomainError';
import { prefixEnd, StorageEngine, WriteOp } from '../storage/StorageEngine';
import { updateKey, snapshotKey, parseUpdateKey, parseSnapshotKey, updatePrefix } from './storageKeys';

/** Who caused a change: the origin of its Yjs transaction, so nothing is echoed back. */
export type ChangeOrigin = 'local' | 'client' | 'catch-up' | `remote:${string}`;

export interface Change {
  readonly docId: DocumentId;
  readonly update: Uint8Array;
  readonly origin: ChangeOrigin;
  /** The version token taken when the update applied (it names only durable changes now). */
  readonly version: Uint8Array;
}

export type ChangeListener = (change: Change) => void;

export interface DocumentStoreOptions {
  readonly engine: StorageEngine;
  readonly clientId: number;
  readonly hash: HashFn;
  /** Compact a document's stored updates into one snapshot past this many updates... */
  readonly compactUpdatesMax?: number;
  /** ...or past this many stored bytes. */
  readonly compactBytesMax?: number;
}

interface Entry {
  readonly doc: Y.Doc;
  nextSeq: number;
  storedUpdates: number;
  storedBytes: number;
  hash: Uint8Array | undefined; // undefined = changed since last computed
  compacting: boolean;
  /** Settles when the latest write issued for this document has settled. */
  inFlight: Promise<void>;
}

/**
 * The documents of one node: Y.Docs in memory, every accepted update appended to storage and
 * fsynced before the caller is answered, compaction of stored updates into snapshots, and
 * change notifications (after the change is durable) for replication, watches and waiters.
 */
export class DocumentStore {
  private readonly docs = new Map<string, Entry>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly engine: StorageEngine;
  private readonly clientId: number;
  private readonly hash: HashFn;
  private readonly compactUpdatesMax: number;
  private readonly compactBytesMax: number;
  private failed: Error | undefined;
  private dirty = new Set<string>();
  private closing = false;

  constructor(opts: DocumentStoreOptions) {
    this.engine = opts.engine;
    this.clientId = opts.clientId;
    this.hash = opts.hash;
    this.compactUpdatesMax = opts.compactUpdatesMax ?? 500;
    this.compactBytesMax = opts.compactBytesMax ?? 1 << 20;
  }

  /** Loads every stored document: its snapshot, then its updates in order. */
  load(): void {
    for (const { key, value } of this.engine.range({ gte: 's:', lt: prefixEnd('s:') })) {
      const e = this.entry(parseSnapshotKey(key), true);
      Y.applyUpdate(e.doc, value, 'storage');
      e.storedBytes += value.byteLength;
    }
    for (const { key, value } of this.engine.range({ gte: updatePrefix, lt: prefixEnd(updatePrefix) })) {
      const { docId, seq } = parseUpdateKey(key);
      const e = this.entry(docId, true);
      Y.applyUpdate(e.doc, value, 'storage');
      e.nextSeq = Math.max(e.nextSeq, seq + 1);
      e.storedUpdates++;
      e.storedBytes += value.byteLength;
    }
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  has(docId: DocumentId): boolean {
    return this.docs.has(docId);
  }

  /** The live document, or undefined. Callers must not write to it. */
  peek(docId: DocumentId): Y.Doc | undefined {
    return this.docs.get(docId)?.doc;
  }

  get size(): number {
    return this.docs.size;
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
   */
  async applyUpdate(docId: DocumentId, update: Uint8Array, origin: ChangeOrigin): Promise<Uint8Array> {
    this.assertHealthy();
    validateUpdate(update);
    const e = this.entry(docId, true);
    Y.applyUpdate(e.doc, update, origin);
    const version = encodeVersion(e.doc);
    await this.persist(docId, e, update, origin, version);
    return version;
  }

  /**
   * Resolves once every change of the document applied so far is durable. Reads wait for it
   * before answering, so no client ever builds on a change a crash could still take away.
   */
  durable(docId: DocumentId): Promise<void> {
    return this.docs.get(docId)?.inFlight ?? Promise.resolve();
  }

  json(docId: DocumentId): Record<string, unknown> {
    const e = this.docs.get(docId);
    return e === undefined ? {} : renderJson(e.doc);
  }

  /** Hash of the integrated state (state vector + delete set), cached until the next change. */
  stateHash(docId: DocumentId): Uint8Array | undefined {
    const e = this.docs.get(docId);
    if (e === undefined) return undefined;
    e.hash ??= stateHash(e.doc, this.hash);
    return e.hash;
  }

  /** Document ids in order, from `startAfter` (exclusive), with the given prefix. */
  list(prefix: string, startAfter: string, limit: number): { docId: DocumentId; updates: number; bytes: number }[] {
    const ids = [...this.docs.keys()].filter((id) => id.startsWith(prefix) && id > startAfter).sort();
    return ids.slice(0, limit).map((id) => {
      const e = this.docs.get(id) as Entry;
      return { docId: id as DocumentId, updates: e.storedUpdates, bytes: e.storedBytes };
    });
  }

  /** Documents changed since the last call (for the anti-entropy digest). */
  takeDirty(): string[] {
    const out = [...this.dirty];
    this.dirty = new Set();
    return out;
  }

  ids(): IterableIterator<string> {
    return this.docs.keys();
  }

  private entry(docId: DocumentId, create: boolean): Entry {
    let e = this.docs.get(docId);
    if (e === undefined) {
      if (!create) throw new DomainError('not-found', `no document ${docId}`);
      this.dirty.add(docId);
      // Passing the guid skips Yjs' random uuid (31 getRandomValues calls per document).
      const doc = new Y.Doc({ gc: true, guid: docId });
      doc.clientID = this.clientId;
      e = { doc, nextSeq: 1, storedUpdates: 0, storedBytes: 0, hash: undefined, compacting: false, inFlight: Promise.resolve() };
      this.docs.set(docId, e);
    }
    return e;
  }

  private async persist(docId: DocumentId, e: Entry, update: Uint8Array, origin: ChangeOrigin, version: Uint8Array): Promise<void> {
    e.hash = undefined;
    this.dirty.add(docId);
    const seq = e.nextSeq++;
    e.storedUpdates++;
    e.storedBytes += update.byteLength;
    const written = this.engine.write([{ type: 'put', key: updateKey(docId, seq), value: update }]);
    // Writes commit in the order they are issued, so the last one stands for all before it.
    e.inFlight = written.catch(() => undefined);
    try {
      await written;
    } catch (err) {
      if (this.closing) throw new DomainError('unavailable', 'this node is stopping');
      this.fail(err as Error);
    }
    for (const l of this.listeners) l({ docId, update, origin, version });
    if (e.storedUpdates > this.compactUpdatesMax || e.storedBytes > this.compactBytesMax) void this.compact(docId, e);
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
      for (const { key } of this.engine.range({ gte: updateKey(docId, 0), lt: updateKey(docId, upTo + 1) })) {
        ops.push({ type: 'del', key });
      }
      await this.engine.write(ops);
      // Updates appended while this ran stay stored; the next compaction folds them in.
      e.storedUpdates = e.nextSeq - 1 - upTo;
      e.storedBytes = snapshot.byteLength;
    } catch (err) {
      this.fail(err as Error);
    } finally {
      e.compacting = false;
    }
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
  close(): void {
    this.closing = true;
  }

  private assertHealthy(): void {
    if (this.closing) throw new DomainError('unavailable', 'this node is stopping');
    if (this.failed !== undefined) throw new DomainError('unavailable', 'storage has failed; this node is stopping');
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
