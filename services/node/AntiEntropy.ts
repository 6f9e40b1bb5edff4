import * as Y from 'yjs';
import { answerDigestQuery, differingDocuments } from '../core/crdt/answerDigestQuery';
import { childrenOf, DigestIndex, digestLeafLevel, equalBytes } from '../core/crdt/DigestIndex';
import { DocumentId, parseDocumentId } from '../core/crdt/documentId';
import { encodeStructsSince } from '../core/crdt/encodeStructsSince';
import { HashFn } from '../core/crdt/stateHash';
import { deleteSetDigest } from '../core/crdt/trackDeletes';
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
import { pushDiffRequestSize, syncRequestSize, syncResponseSize } from './peerMessageSize';
import { TurnPriority, TurnQueue } from './TurnQueue';

export interface RoundStats {
  readonly peerId: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly differingBuckets: number;
  readonly levelsWalked: number;
  /** The round pulled the documents the peer named as owed instead of comparing digests. */
  readonly directed: boolean;
  /**
   * Documents whose side the round left to the peer's own round to pull (`pulls_back`), which had
   * not pulled them from us by the time this round ended.
   */
  readonly leftToPeer: readonly string[];
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

/** Documents per Sync call. */
export const syncDocsPerCallMax = 500;
/** Sync calls of one round in flight at once: the peer encodes one chunk while we apply another. */
export const syncCallsInFlightMax = 2;
/**
 * Diff bytes a Sync answer carries at most (it then names a prefix of the documents asked for),
 * and a PushDiff call: far below the receiving ends' message limits (64 MiB between nodes,
 * 8 MiB for requests), whatever the size of the documents.
 */
export const syncAnswerBytesMax = 8 << 20;
export const pushBytesMax = 4 << 20;
/** Diffs (of an answer or a push) applied in one step (see inTurn). */
export const applySliceDocsMax = 100;
/** A differing digest node under which the peer holds at most this many documents is listed. */
export const digestListMax = 8;
/** Diffs kept for answering the next peer that asks with the same state vector. */
const diffCacheEntriesMax = 4096;
/** Merged peer states remembered (a miss only costs a fetch that brings nothing). */
const mergedStatesMax = 100_000;

interface Counters {
  sent: number;
  received: number;
}

interface CachedDiff {
  readonly sv: Uint8Array;
  /** Whether the diff leaves the delete set out (the peer named the same delete-set digest). */
  readonly structsOnly: boolean;
  /** The document's change stamp when the diff was computed (see DocumentStore.changeStamp). */
  readonly stamp: number;
  readonly diff: Uint8Array | undefined;
}

/**
 * Anti-entropy between this node and one peer: descend bucket digests to the documents that
 * differ, fetch the peer's diffs for them (sending our state vectors) and, unless the peer is
 * fetching ours in its own round at the same time, push ours (using the peer's state vectors).
 * Only what each side lacks crosses the network, once, plus the digest.
 */
export class AntiEntropy {
  readonly index: DigestIndex;
  private readonly running = new Set<string>();
  /** Documents being fetched from some peer now: another round waits instead of fetching them again. */
  private readonly fetching = new Map<string, Promise<void>>();
  private readonly diffCache = new Map<string, CachedDiff>();
  /** Where inTurn queues its steps. */
  private readonly turnQueue: TurnQueue;
  /**
   * Per document, the hash a peer listed for it when we last fetched its diff from that peer:
   * our state contains that state (CRDT states only grow), so another peer listing the same
   * hash has nothing for us.
   */
  private readonly mergedState = new Map<string, Uint8Array>();
  /**
   * Events counted in order (round starts, digest steps answered), and the count at each peer's
   * last digest step: a peer that stepped after our round with it began is running its own.
   */
  private events = 0;
  private readonly peerStepAt = new Map<string, number>();
  /**
   * Per peer, the event at which it last fetched each document's diff from us (answerSync): a
   * round that began before need not push that document to it (the peer's own round, begun
   * later, pulled it).
   */
  private readonly pulledAt = new Map<string, Map<string, number>>();
  readonly history: RoundStats[] = [];
  /** Peers a round was asked for while one with them was running. */
  private readonly wanted = new Set<string>();
  /**
   * Called when a round that refused a request (one with that peer was running) has ended: the
   * request (say, the round on a reconnect, which delivers a dropped backlog) runs now instead of
   * waiting for the periodic safety net.
   */
  onRoundWanted: ((peerId: string) => void) | undefined;
  /** Called when a peer fetched our diffs for documents (it holds our side of them now). */
  onPulled: ((peerId: string, docIds: readonly string[]) => void) | undefined;

  constructor(
    private readonly selfId: string,
    private readonly store: DocumentStore,
    private readonly hash: HashFn,
    private readonly traffic: TrafficStats,
    /**
     * Lets pending I/O run before each step of inTurn: a node passes a full event-loop turn, so
     * answers written but not yet sent (HTTP/2 sends at the end of the turn) leave, and requests
     * and answers that arrived are read, before the next step runs.
     */
    yieldToIo: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.index = new DigestIndex(hash);
    this.turnQueue = new TurnQueue(yieldToIo);
  }

  /**
   * Runs a heavy synchronous step (answering a Sync, applying a slice of an answer's diffs) in
   * its turn: one after the other, each after pending I/O had its chance (yieldToIo), answers
   * before applies (see TurnQueue). During a heal a node answers its peers' pulls while it
   * applies what it pulled; run back to back, one answer's send waited behind the next answer or
   * a whole apply, and so did the peer's round.
   */
  inTurn<T>(step: () => T, priority: TurnPriority): Promise<T> {
    return this.turnQueue.run(step, priority);
  }

  /** Rounds this node is running now. */
  get roundsRunning(): number {
    return this.running.size;
  }

  /** Folds every changed document's state hash into the digest. */
  refresh(): void {
    for (const id of this.store.takeDirty()) {
      const h = this.store.stateHash(id as DocumentId);
      if (h !== undefined) this.index.set(id, h);
    }
  }

  /**
   * Runs one round with `peerId` unless one is already running (then `onRoundWanted` asks again
   * when that one ends); resolves with its stats. With `owed` (the documents the peer named as
   * owed to us, both sides' lists complete: see OwedDocuments) it is directed: it pulls the
   * peer's diffs for exactly those, without comparing digests, and pushes nothing (the peer's
   * own directed round pulls what we owe it).
   */
  async round(peerId: string, peer: AntiEntropyPeer, deadlineMs = 5_000, owed?: readonly string[]): Promise<RoundStats | undefined> {
    if (this.running.has(peerId)) {
      this.wanted.add(peerId);
      return undefined;
    }
    this.running.add(peerId);
    const startedAt = Date.now();
    const startedAtEvent = ++this.events;
    const bytes: Counters = { sent: 0, received: 0 };
    try {
      const { ids, theirs, listedNodes, levelsWalked } = owed === undefined
        ? await this.descend(peer, deadlineMs, bytes)
        : { ids: [...owed], theirs: new Map<string, Uint8Array>(), listedNodes: 0, levelsWalked: 0 };
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += syncDocsPerCallMax) chunks.push(ids.slice(i, i + syncDocsPerCallMax));
      let next = 0;
      const leftToPeer = new Set<string>();
      const durable: Promise<unknown>[] = [];
      await Promise.all(Array.from({ length: Math.min(syncCallsInFlightMax, chunks.length) }, async () => {
        for (let i = next++; i < chunks.length; i = next++) {
          durable.push((await this.syncChunk(peerId, peer, chunks[i] as string[], theirs, startedAtEvent, deadlineMs, bytes, owed === undefined ? leftToPeer : undefined)).durable);
        }
      }));
      // A chunk's slot is free once its diffs are in memory; the round ends once they are durable.
      await Promise.all(durable);
      const pulled = this.pulledAt.get(peerId);
      const stats: RoundStats = {
        peerId, startedAt, durationMs: Date.now() - startedAt, differingBuckets: listedNodes, levelsWalked, directed: owed !== undefined,
        leftToPeer: [...leftToPeer].filter((id) => (pulled?.get(id) ?? 0) <= startedAtEvent),
        documents: ids.length, bytesSent: bytes.sent, bytesReceived: bytes.received,
      };
      this.history.push(stats);
      this.traffic.antiEntropyRounds++;
      if (owed !== undefined) this.traffic.antiEntropyDirectedRounds++;
      this.traffic.antiEntropyBytesSent += bytes.sent;
      this.traffic.antiEntropyBytesReceived += bytes.received;
      if (this.history.length > 100) this.history.shift();
      return stats;
    } finally {
      this.running.delete(peerId);
      if (this.wanted.delete(peerId)) this.onRoundWanted?.(peerId);
    }
  }

  /**
   * Descends the digest tree: compares only the children of nodes that differ, until every
   * differing node is listed. It starts below the root: comparing the root alone would cost a
   * round trip to learn what the first level's 16 hashes tell at once.
   */
  private async descend(peer: AntiEntropyPeer, deadlineMs: number, bytes: Counters): Promise<{ ids: string[]; theirs: Map<string, Uint8Array>; listedNodes: number; levelsWalked: number }> {
    this.refresh();
    let level = 1;
    let parents = [0];
    let indexes = childrenOf(parents);
    let levelsWalked = 0;
    const theirs = new Map<string, Uint8Array>();
    const mine = new Map<string, Uint8Array>();
    let listedNodes = 0;
    for (;;) {
      const req: DigestRequest = { nodeId: this.selfId, level, indexes: [], parents, hashes: this.index.hashesAt(level, indexes), listMax: digestListMax };
      bytes.sent += DigestRequest.encode(req).finish().byteLength;
      const res = await peer.digest(req, deadlineMs);
      bytes.received += DigestResponse.encode(res).finish().byteLength;
      levelsWalked++;
      for (const d of res.documents) theirs.set(d.documentId, d.hash);
      for (const node of res.listed) {
        listedNodes++;
        for (const [id, h] of this.index.documentsUnder(level, node)) mine.set(id, h);
      }
      if (res.differing.length === 0 || level >= digestLeafLevel) break;
      parents = res.differing;
      indexes = childrenOf(res.differing);
      level++;
    }
    return { ids: differingDocuments(mine, theirs), theirs, listedNodes, levelsWalked };
  }

  /**
   * Fetches the peer's diffs for `chunk` and pushes ours. A document another round is fetching
   * right now is waited for first, and skipped when it then matches the peer's listed hash.
   * While the peer runs its own round with us (it asked for a digest step since this round
   * began), a document whose listed state we already merged from another peer is skipped too:
   * the peer has nothing for us there, and its round pulls what it lacks of ours. What either
   * side merges from a third node meanwhile reaches the other in a later round (the peer does
   * not push to us while its round with us runs either).
   */
  private async syncChunk(
    peerId: string, peer: AntiEntropyPeer, chunk: readonly string[], theirs: ReadonlyMap<string, Uint8Array>, roundStartedAtEvent: number, deadlineMs: number, bytes: Counters,
    /** Where a pushing round notes what it leaves to the peer; undefined: pull only. */
    leftToPeer: Set<string> | undefined,
  ): Promise<{ durable: Promise<unknown> }> {
    const busy = chunk.map((id) => this.fetching.get(id)).filter((p): p is Promise<void> => p !== undefined);
    if (busy.length > 0) await Promise.all(busy);
    const peerPulls = (this.peerStepAt.get(peerId) ?? 0) > roundStartedAtEvent;
    const todo = busy.length === 0 && !peerPulls ? chunk : chunk.filter((id) => {
      const t = theirs.get(id);
      if (t === undefined) return true;
      if (peerPulls) {
        const merged = this.mergedState.get(id);
        if (merged !== undefined && equalBytes(merged, t)) {
          leftToPeer?.add(id);
          return false;
        }
      }
      const h = this.store.stateHash(id as DocumentId);
      return h === undefined || !equalBytes(h.subarray(0, t.length), t);
    });
    if (todo.length === 0) return { durable: Promise.resolve() };
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    for (const id of todo) this.fetching.set(id, done);
    // Another round waits for these documents until what this chunk fetched is durable.
    const release = (): void => {
      for (const id of todo) if (this.fetching.get(id) === done) this.fetching.delete(id);
      settle();
    };
    let durable: Promise<unknown> | undefined;
    // Every diff of the chunk is applied as it arrives (Yjs applies synchronously) and their
    // writes share group commits, instead of one fsync after another. The caller awaits their
    // durability; the next chunk need not.
    const applied: Promise<unknown>[] = [];
    try {
      // A peer answers as many documents as fit its answer budget, in order: ask again for the rest.
      let rest: readonly string[] = todo;
      while (rest.length > 0) {
        const req: SyncRequest = {
          nodeId: this.selfId,
          documents: rest.map((id) => ({ documentId: id, stateVector: this.stateVector(id), update: new Uint8Array(), deleteSetDigest: this.deletesDigest(id) })),
          pullOnly: leftToPeer === undefined,
        };
        bytes.sent += syncRequestSize(req);
        const got = await peer.sync(req, deadlineMs);
        bytes.received += syncResponseSize(got);
        const pushes: SyncDoc[] = [];
        const pulled = this.pulledAt.get(peerId);
        await this.applyInTurns(got.documents, `remote:${peerId}`, 'trusted', 'apply', applied, (d) => {
          if (leftToPeer === undefined) return;
          if (got.pullsBack) {
            leftToPeer.add(d.documentId);
            return;
          }
          if ((pulled?.get(d.documentId) ?? 0) > roundStartedAtEvent) return;
          const diff = this.diffFor(d.documentId as DocumentId, d.stateVector, d.deleteSetDigest);
          if (diff !== undefined) pushes.push({ documentId: d.documentId, stateVector: new Uint8Array(), update: diff, deleteSetDigest: new Uint8Array() });
        });
        for (const batch of byteBatches(pushes, pushBytesMax)) {
          const push: PushDiffRequest = { nodeId: this.selfId, documents: batch };
          bytes.sent += pushDiffRequestSize(push);
          await peer.pushDiff(push, deadlineMs);
        }
        const answered = new Set(got.documents.map((d) => d.documentId));
        if (answered.size === 0) break; // a peer always answers at least one: do not spin
        rest = rest.filter((id) => !answered.has(id));
      }
      durable = Promise.all(applied);
      void durable.then(release, release);
      if (this.mergedState.size + todo.length > mergedStatesMax) this.mergedState.clear();
      for (const id of todo) {
        const t = theirs.get(id);
        if (t !== undefined) this.mergedState.set(id, t.slice()); // a copy: t is a view into the whole response
      }
      return { durable };
    } finally {
      if (durable === undefined) {
        // Failed midway: release the documents once what did arrive is durable (or failed).
        void Promise.allSettled(applied).then(release);
      }
    }
  }

  /** Answers a peer's digest step: the nodes that differ, descended or listed with our documents. */
  answerDigest(req: DigestRequest): DigestResponse {
    this.traffic.antiEntropyBytesReceived += DigestRequest.encode(req).finish().byteLength;
    this.peerStepAt.set(req.nodeId, ++this.events);
    this.refresh();
    const indexes = req.parents.length > 0 ? childrenOf(req.parents) : req.indexes;
    const a = answerDigestQuery(this.index, { level: req.level, indexes, hashes: req.hashes, listMax: req.listMax });
    return { differing: a.differing, listed: a.listed, documents: [...a.documents].map(([documentId, hash]) => ({ documentId, hash })) };
  }

  /** Answers a peer's Sync in its turn, ahead of our own pulls' applies (see inTurn). */
  answerSyncInTurn(req: SyncRequest): Promise<SyncResponse> {
    return this.inTurn(() => this.answerSync(req), 'answer');
  }

  /**
   * Answers a peer's state vectors with what it lacks of each document, and our vectors. When
   * our own round with that peer is running, it fetches the peer's side: say so (pulls_back).
   */
  answerSync(req: SyncRequest): SyncResponse {
    this.traffic.antiEntropyBytesReceived += syncRequestSize(req);
    let pulled = this.pulledAt.get(req.nodeId);
    if (pulled === undefined || pulled.size + req.documents.length > mergedStatesMax) this.pulledAt.set(req.nodeId, (pulled = new Map()));
    const at = ++this.events;
    // Pulling back, we fetch the peer's side ourselves: it needs no vectors to push with (nor
    // when it only pulls).
    const pullsBack = this.running.has(req.nodeId);
    const vectors = !pullsBack && !req.pullOnly;
    const out: SyncDoc[] = [];
    let answerBytes = 0;
    for (const d of req.documents) {
      // Past the budget the answer ends: the caller asks again for the documents it left out.
      if (out.length > 0 && answerBytes >= syncAnswerBytesMax) break;
      const docId = parseDocumentId(d.documentId);
      pulled.set(docId, at);
      const doc = this.store.peek(docId);
      const answer: SyncDoc = {
        documentId: docId,
        stateVector: doc === undefined || !vectors ? new Uint8Array() : Y.encodeStateVector(doc),
        update: doc === undefined ? new Uint8Array() : (this.diffFor(docId, d.stateVector, d.deleteSetDigest) ?? new Uint8Array()),
        // With our vector, so the diff the caller pushes back can leave the delete set out too.
        deleteSetDigest: doc === undefined || !vectors ? new Uint8Array() : deleteSetDigest(doc, this.hash),
      };
      answerBytes += answer.update.length + answer.stateVector.length;
      out.push(answer);
    }
    this.onPulled?.(req.nodeId, out.map((d) => d.documentId));
    return { documents: out, pullsBack };
  }

  /**
   * Applies the diffs a peer pushed to us; resolves when they are durable. Its slices go with
   * the answers (see TurnQueue): the peer's round waits for this call as for a Sync answer.
   */
  async acceptPushDiff(req: PushDiffRequest): Promise<PushDiffResponse> {
    this.traffic.antiEntropyBytesReceived += pushDiffRequestSize(req);
    const applied: Promise<unknown>[] = [];
    await this.applyInTurns(req.documents, `remote:${req.nodeId}`, 'check', 'answer', applied);
    await Promise.all(applied);
    return {};
  }

  /**
   * Applies a peer's diffs in steps of `applySliceDocsMax` documents (see inTurn), collecting
   * their durability in `applied`; `each` runs after each document's apply, in the same step.
   */
  private async applyInTurns(
    docs: readonly SyncDoc[], origin: `remote:${string}`, trust: 'check' | 'trusted', priority: TurnPriority, applied: Promise<unknown>[], each?: (d: SyncDoc) => void,
  ): Promise<void> {
    for (let from = 0; from < docs.length; from += applySliceDocsMax) {
      await this.inTurn(() => {
        for (const d of docs.slice(from, from + applySliceDocsMax)) {
          if (d.update.length > 0) applied.push(this.store.applyUpdate(parseDocumentId(d.documentId), d.update, origin, trust));
          each?.(d);
        }
      }, priority);
    }
  }

  private stateVector(docId: string): Uint8Array {
    const doc = this.store.peek(docId as DocumentId);
    return doc === undefined ? new Uint8Array() : Y.encodeStateVector(doc);
  }

  /** The digest of the document's delete set, sent with its state vector (empty without the document). */
  private deletesDigest(docId: string): Uint8Array {
    const doc = this.store.peek(docId as DocumentId);
    return doc === undefined ? new Uint8Array() : deleteSetDigest(doc, this.hash);
  }

  /**
   * What a peer with state vector `sv` lacks of our document (undefined: nothing to send). Peers
   * that missed the same changes ask with the same vector: the diff is computed once for them
   * while the document stays unchanged.
   */
  diffFor(docId: DocumentId, sv: Uint8Array, peerDeleteSetDigest: Uint8Array = new Uint8Array()): Uint8Array | undefined {
    const doc = this.store.peek(docId);
    if (doc === undefined) return undefined;
    // A peer whose delete set is ours gets the structs alone (see SyncDoc.delete_set_digest);
    // Yjs's own encoding while the document holds pending content.
    const sameDeletes = peerDeleteSetDigest.length > 0 && equalBytes(peerDeleteSetDigest, deleteSetDigest(doc, this.hash));
    const stamp = this.store.changeStamp(docId);
    const cached = this.diffCache.get(docId);
    if (stamp !== undefined && cached?.stamp === stamp && cached.structsOnly === sameDeletes && equalBytes(cached.sv, sv)) return cached.diff;
    const structs = sameDeletes ? encodeStructsSince(doc, sv) : undefined;
    const update = structs ?? (sv.length === 0 ? Y.encodeStateAsUpdate(doc) : Y.encodeStateAsUpdate(doc, sv));
    const diff = isEmptyUpdate(update) ? undefined : update;
    if (stamp !== undefined) {
      if (this.diffCache.size >= diffCacheEntriesMax) this.diffCache.clear();
      this.diffCache.set(docId, { sv: sv.slice(), structsOnly: sameDeletes, stamp, diff });
    }
    return diff;
  }
}

/** Splits documents into runs of at most `max` diff bytes (a larger one travels alone). */
function byteBatches(docs: readonly SyncDoc[], max: number): SyncDoc[][] {
  const out: SyncDoc[][] = [];
  let batch: SyncDoc[] = [];
  let bytes = 0;
  for (const d of docs) {
    if (batch.length > 0 && bytes + d.update.length > max) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(d);
    bytes += d.update.length;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** An update with no structs and no deletes (Yjs encodes it as two zero bytes). */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length <= 2 && update.every((b) => b === 0);
}
