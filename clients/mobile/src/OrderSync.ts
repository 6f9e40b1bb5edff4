import * as Y from 'yjs';
import type { ConcordWebApi } from './ConcordWebApi';
import { GrpcWebError, grpcStatus } from './GrpcWebError';

// Keeps one phone's Y.Doc in sync with the cluster through the gateway. gRPC-Web has no client
// streaming, so sync is unary PushUpdate of local changes plus a server-streaming Watch.
// Every (re)connect starts with a resync: Get with the phone's state vector brings what the
// phone lacks, and the node's version token (its state vector) tells what the node lacks, which
// is pushed; then Watch resumes from that version. So nothing needs an outbox: a change made
// offline, or whose push failed, is found again by the next resync, and a node that died before
// replicating a phone's update gets it again from the phone via whichever node serves it next.

/** The three document calls sync needs (ConcordWebApi; a fake in unit tests). */
export type DocumentSyncApi = Pick<ConcordWebApi, 'pushUpdate' | 'get' | 'watch'>;

export type SyncState = 'offline' | 'connecting' | 'live';

export interface SyncStatus {
  state: SyncState;
  node: string;
  error: string;
}

/** Origin of updates that came from the cluster: they are never pushed back (no echo). */
export const remoteOrigin = Symbol('concord-remote');

export class OrderSync {
  private online = false;
  private abort = new AbortController();
  private pending: Uint8Array[] = [];
  private pushing = false;
  private live = false;
  /** Bumped on every go-online, so a loop still sleeping from before an offline/online flip ends. */
  private generation = 0;
  private status: SyncStatus = { state: 'offline', node: '', error: '' };

  constructor(
    private readonly doc: Y.Doc,
    private readonly api: DocumentSyncApi,
    private readonly documentId: string,
    private readonly onStatus: (s: SyncStatus) => void,
    /** Other origins that are not local edits (the IndexedDB loader). */
    private readonly ignoredOrigins: readonly unknown[] = [],
  ) {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === remoteOrigin || this.ignoredOrigins.includes(origin) || !this.online) return;
      this.pending.push(update);
      if (this.live) void this.flush();
    });
  }

  setOnline(online: boolean): void {
    if (online === this.online) return this.onStatus(this.status); // e.g. starting up offline
    this.online = online;
    if (online) void this.run();
    else {
      this.abort.abort();
      this.setStatus({ state: 'offline', node: '', error: '' });
    }
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    const generation = ++this.generation;
    while (this.online && generation === this.generation) {
      const abort = new AbortController();
      this.abort = abort;
      this.live = false;
      this.pending = []; // the resync below covers them
      try {
        this.setStatus({ state: 'connecting', node: this.status.node, error: '' });
        const version = await this.resync();
        const stream = await this.api.watch(this.documentId, version, abort.signal);
        this.live = true;
        backoffMs = 250;
        this.setStatus({ state: 'live', node: stream.servedBy, error: '' });
        void this.flush();
        for await (const event of stream.messages) Y.applyUpdate(this.doc, event.update, remoteOrigin);
      } catch (err) {
        if (!this.online || generation !== this.generation) return;
        const message = err instanceof GrpcWebError ? err.message : String(err);
        this.setStatus({ state: 'connecting', node: '', error: message });
      } finally {
        if (generation === this.generation) this.live = false;
        abort.abort();
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }

  /** Two-way catch-up with the serving node; returns the version to watch from. */
  private async resync(): Promise<Uint8Array> {
    let version: Uint8Array = new Uint8Array();
    let serverSv: Uint8Array | undefined;
    try {
      const got = await this.api.get(this.documentId, Y.encodeStateVector(this.doc));
      if (got.update.byteLength > 0) Y.applyUpdate(this.doc, got.update, remoteOrigin);
      version = got.version;
      serverSv = Y.encodeStateVector(Y.decodeSnapshot(got.version).sv);
    } catch (err) {
      // A document nobody wrote yet: the node lacks everything this phone has.
      if (!(err instanceof GrpcWebError) || err.code !== grpcStatus.NOT_FOUND) throw err;
    }
    const missing = serverSv === undefined ? Y.encodeStateAsUpdate(this.doc) : Y.encodeStateAsUpdate(this.doc, serverSv);
    // Two bytes = no structs and no deletes: nothing to send.
    if (missing.byteLength > 2) await this.api.pushUpdate(this.documentId, missing);
    return version;
  }

  /** Pushes local changes one batch at a time; a failure restarts the cycle (resync repairs). */
  private async flush(): Promise<void> {
    if (this.pushing) return;
    this.pushing = true;
    try {
      while (this.live && this.pending.length > 0) {
        const batch = Y.mergeUpdates(this.pending.splice(0));
        await this.api.pushUpdate(this.documentId, batch);
      }
    } catch {
      this.abort.abort();
    } finally {
      this.pushing = false;
    }
  }

  private setStatus(s: SyncStatus): void {
    this.status = s;
    this.onStatus(s);
  }
}
