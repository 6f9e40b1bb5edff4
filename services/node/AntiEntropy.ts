import * as Y from 'yjs';
import { childrenOf, DigestIndex, digestLeafLevel, equalBytes } from '../core/crdt/DigestIndex';
import { DocumentId, parseDocumentId } from '../core/crdt/documentId';
import { HashFn } from '../core/crdt/stateHash';
import {
  DigestRequest,
  DigestResponse,
  PushDiffRequest,
  PushDiffResponse,
  SyncDoc,
  SyncRequest,
  SyncResponse,
} from '../../proto/gen/concord/v1/peer';
import { DocumentStore } from './DocumentStore';
import { TrafficStats } from './TrafficStats';

export interface RoundStats {
  readonly peerId: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly differingBuckets: number;
  readonly levelsWalked: number;
  readonly documents: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/**
 * The three anti-entropy calls as a port: the node implements it over gRPC
 * (grpcAntiEntropyPeer), the simulator over its in-memory network.
 */
export interface AntiEntropyPeer {
  digest(req: DigestRequest, deadlineMs: number): Promise<DigestResponse>;
  sync(req: SyncRequest, deadlineMs: number): Promise<SyncResponse>;
  pushDiff(req: PushDiffRequest, deadlineMs: number): Promise<PushDiffResponse>;
}

/** Documents per Sync/PushDiff call, so one message stays far below the size limit. */
export const syncDocsPerCallMax = 200;

/**
 * Anti-entropy between this node and one peer, in three calls: compare bucket digests, fetch
 * the peer's diffs for the documents that differ (sending our state vectors), push ours (using
 * the peer's state vectors). Only what each side lacks crosses the network, plus the digest.
 */
export class AntiEntropy {
  readonly index: DigestIndex;
  private readonly running = new Set<string>();
  readonly history: RoundStats[] = [];

  constructor(
    private readonly selfId: string,
    private readonly store: DocumentStore,
    hash: HashFn,
    private readonly traffic: TrafficStats,
  ) {
    this.index = new DigestIndex(hash);
  }

  /** Folds every changed document's state hash into the digest. */
  refresh(): void {
    for (const id of this.store.takeDirty()) {
      const h = this.store.stateHash(id as DocumentId);
      if (h !== undefined) this.index.set(id, h);
    }
  }

  /** Runs one round with `peerId` unless one is already running; resolves with its stats. */
  async round(peerId: string, peer: AntiEntropyPeer, deadlineMs = 5_000): Promise<RoundStats | undefined> {
    if (this.running.has(peerId)) return undefined;
    this.running.add(peerId);
    const startedAt = Date.now();
    let bytesSent = 0;
    let bytesReceived = 0;
    try {
      this.refresh();
      // Descend the digest tree: compare only the children of nodes that differ.
      let level = 0;
      let indexes = [0];
      let theirs = new Map<string, Uint8Array>();
      let leaves: number[] = [];
      let levelsWalked = 0;
      for (;;) {
        const hashes = this.index.hashesAt(level, indexes);
        for (const h of hashes) bytesSent += h.length + 2;
        bytesSent += indexes.length * 3;
        const res = await peer.digest({ nodeId: this.selfId, level, indexes, hashes }, deadlineMs);
        bytesReceived += res.differing.length * 3;
        levelsWalked++;
        if (res.differing.length === 0) break;
        if (level === digestLeafLevel) {
          leaves = res.differing;
          theirs = new Map(res.documents.map((d) => [d.documentId, d.hash]));
          for (const d of res.documents) bytesReceived += d.documentId.length + d.hash.length;
          break;
        }
        indexes = childrenOf(res.differing);
        level++;
      }
      const mine = this.index.documentsIn(leaves);
      const differing = new Set<string>();
      for (const [id, h] of mine) if (!equalBytes(h, theirs.get(id) ?? new Uint8Array())) differing.add(id);
      for (const id of theirs.keys()) if (!mine.has(id)) differing.add(id);
      const ids = [...differing].sort();
      for (let i = 0; i < ids.length; i += syncDocsPerCallMax) {
        const chunk = ids.slice(i, i + syncDocsPerCallMax);
        const asks = chunk.map((id) => ({ documentId: id, stateVector: this.stateVector(id), update: new Uint8Array() }));
        for (const a of asks) bytesSent += a.documentId.length + a.stateVector.length;
        const got = await peer.sync({ nodeId: this.selfId, documents: asks }, deadlineMs);
        const pushes: SyncDoc[] = [];
        // Every diff of the chunk is applied at once (Yjs applies synchronously) and their
        // writes share one group commit, instead of one fsync after another.
        const applied: Promise<unknown>[] = [];
        for (const d of got.documents) {
          bytesReceived += d.documentId.length + d.stateVector.length + d.update.length;
          if (d.update.length > 0) applied.push(this.store.applyUpdate(d.documentId as DocumentId, d.update, `remote:${peerId}`));
          const diff = this.diffFor(d.documentId as DocumentId, d.stateVector);
          if (diff !== undefined) pushes.push({ documentId: d.documentId, stateVector: new Uint8Array(), update: diff });
        }
        await Promise.all(applied);
        if (pushes.length > 0) {
          for (const p of pushes) bytesSent += p.documentId.length + p.update.length;
          await peer.pushDiff({ nodeId: this.selfId, documents: pushes }, deadlineMs);
        }
      }
      const stats: RoundStats = {
        peerId, startedAt, durationMs: Date.now() - startedAt, differingBuckets: leaves.length, levelsWalked,
        documents: ids.length, bytesSent, bytesReceived,
      };
      this.history.push(stats);
      this.traffic.antiEntropyRounds++;
      this.traffic.antiEntropyBytesSent += bytesSent;
      this.traffic.antiEntropyBytesReceived += bytesReceived;
      if (this.history.length > 100) this.history.shift();
      return stats;
    } finally {
      this.running.delete(peerId);
    }
  }

  /** Answers a peer's digest: the buckets that differ and our documents in them. */
  answerDigest(req: DigestRequest): DigestResponse {
    for (const h of req.hashes) this.traffic.antiEntropyBytesReceived += h.length + 2;
    this.refresh();
    if (req.level > digestLeafLevel) return { differing: [], documents: [] };
    const differing = this.index.differing(req.level, req.indexes, req.hashes);
    const docs = req.level === digestLeafLevel ? this.index.documentsIn(differing) : new Map<string, Uint8Array>();
    return { differing, documents: [...docs].map(([documentId, hash]) => ({ documentId, hash })) };
  }

  /** Answers a peer's state vectors with what it lacks of each document, and our vectors. */
  answerSync(req: SyncRequest): SyncResponse {
    const out: SyncDoc[] = [];
    for (const d of req.documents) {
      this.traffic.antiEntropyBytesReceived += d.documentId.length + d.stateVector.length;
      const docId = parseDocumentId(d.documentId);
      const doc = this.store.peek(docId);
      out.push({
        documentId: docId,
        stateVector: doc === undefined ? new Uint8Array() : Y.encodeStateVector(doc),
        update: doc === undefined ? new Uint8Array() : (this.diffFor(docId, d.stateVector) ?? new Uint8Array()),
      });
    }
    return { documents: out };
  }

  /** Applies the diffs a peer pushed to us; resolves when they are durable. */
  async acceptPushDiff(req: PushDiffRequest): Promise<PushDiffResponse> {
    const applied: Promise<unknown>[] = [];
    for (const d of req.documents) {
      this.traffic.antiEntropyBytesReceived += d.documentId.length + d.update.length;
      if (d.update.length > 0) applied.push(this.store.applyUpdate(parseDocumentId(d.documentId), d.update, `remote:${req.nodeId}`));
    }
    await Promise.all(applied);
    return {};
  }

  private stateVector(docId: string): Uint8Array {
    const doc = this.store.peek(docId as DocumentId);
    return doc === undefined ? new Uint8Array() : Y.encodeStateVector(doc);
  }

  /** What a peer with state vector `sv` lacks of our document (undefined: nothing to send). */
  diffFor(docId: DocumentId, sv: Uint8Array): Uint8Array | undefined {
    const doc = this.store.peek(docId);
    if (doc === undefined) return undefined;
    const update = sv.length === 0 ? Y.encodeStateAsUpdate(doc) : Y.encodeStateAsUpdate(doc, sv);
    return isEmptyUpdate(update) ? undefined : update;
  }
}

/** An update with no structs and no deletes (Yjs encodes it as two zero bytes). */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length <= 2 && update.every((b) => b === 0);
}
