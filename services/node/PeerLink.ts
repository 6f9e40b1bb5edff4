import { type ChannelCredentials, ClientDuplexStream, credentials, Metadata } from '@grpc/grpc-js';
import { PeerMessage, PeerServiceClient } from '../../proto/gen/concord/v1/peer';
import { KeyCounts } from './KeyCounts';
import { LinkFaults } from './LinkFaults';
import { OwedDocuments, OwedList, RoundPlan } from './OwedDocuments';
import { onceThisTurn } from './onceThisTurn';
import { SeqQueue } from './SeqQueue';
import { connectionUp, nodeIdHeader, peerChannelOptions, redialAfterMs } from './peerChannelOptions';
import { OutboundTrace } from '../telemetry/replicationTelemetry';
import { PeerClient } from './peerClients';

export interface PeerLinkOptions {
  readonly selfId: string;
  readonly clusterId: string;
  readonly incarnation: bigint;
  readonly peerId: string;
  readonly address: string;
  readonly heartbeatIntervalMs: number;
  readonly reconnectDelayMsMax: number;
  readonly batchUpdatesMax: number;
  readonly batchBytesMax: number;
  /** Past this many queued bytes the queue is dropped; anti-entropy repairs the peer later. */
  readonly queueBytesMax: number;
  /** Injected faults: a cut link is closed and not redialled until healed. */
  readonly faults: LinkFaults;
  /** How to dial the peer (mutual TLS when the cluster uses it; default insecure). */
  readonly credentials?: ChannelCredentials;
  /** Called on every (re)connect, so anti-entropy can run with this peer. */
  readonly onConnected: () => void;
  /** Called when the peer acknowledges durability up to a sequence number. */
  readonly onAck: (durableSeq: number) => void;
  /** Whether some write is waiting for peers' acks (QUORUM or ALL) right now. */
  readonly acksAwaited: () => boolean;
}

interface Queued {
  readonly seq: number;
  readonly docId: string;
  readonly update: Uint8Array;
  /** When it was queued (Date.now()), for the replication lag. */
  readonly at: number;
  /** Its replication span, when the write is traced. */
  readonly trace: OutboundTrace | undefined;
}

/**
 * One outbound replication link: a long-lived bidirectional stream to one peer over which this
 * node pushes the updates it accepted, in batches, and receives durability acks and heartbeats.
 * Unacked updates stay queued; after a reconnect they are re-sent (Yjs updates are idempotent)
 * or left to the reconnect's anti-entropy round (see connect).
 */
/** The first redial after a link goes down waits this long; each failed one doubles it (to reconnectDelayMsMax). */
const firstReconnectDelayMs = 50;
/** Past this backlog a reconnect leaves catching up to anti-entropy (unless a write awaits acks). */
export const reconnectBacklogBytesMax = 256 << 10;
/** A backlog this small is re-sent on reconnect even when no write waits for its acks. */
export const reconnectResendUpdatesMax = 64;

export class PeerLink {
  private currentClient: PeerServiceClient;
  private lastDialAt = 0;
  private stream: ClientDuplexStream<PeerMessage, PeerMessage> | undefined;
  private readonly queue = new SeqQueue<Queued>();
  /** Queued updates per document (what the hello names as owed besides the dropped ones). */
  private readonly queuedDocs = new KeyCounts<string>();
  private queueBytes = 0;
  /**
   * Queued updates with a replication span to end. Usually none (tracing off or unsampled), and
   * then dropping or stopping skips a walk of the queue: a backlog of 100,000 updates took
   * 21 ms of the main thread when a heal reconnected.
   */
  private tracedQueued = 0;
  private sentUpTo = 0;
  private ackedUpTo = 0;
  private connectedFlag = false;
  private lastHeardAt = 0;
  /** When a message last came on the peer's own stream to this node (heardOnPeerStream). */
  private peerStreamHeardAt = 0;
  private stopped = false;
  /** Flushes at the end of this event-loop turn (see enqueue). */
  private readonly flushSoon = onceThisTurn(() => {
    if (!this.stopped) this.flush();
  });
  private reconnectDelayMs = firstReconnectDelayMs;
  /** The peer dialled us while our own dial was pending: if that dial fails, redial at once. */
  private peerUpWhileDialing = false;
  private timers: NodeJS.Timeout[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private writable = true;
  private unsubscribeFaults: () => void = () => undefined;
  droppedUpdates = 0;
  /** Documents whose dropped changes only anti-entropy delivers now (see OwedDocuments). */
  private readonly owed = new OwedDocuments();
  private droppedFrom = 0;
  private droppedTo = -1;

  constructor(private readonly opts: PeerLinkOptions) {
    this.currentClient = new PeerClient(opts.address, opts.credentials ?? credentials.createInsecure(), peerChannelOptions);
  }

  /** The client for this peer (replaced when a dial stays stuck; do not keep it). */
  get client(): PeerServiceClient {
    return this.currentClient;
  }

  get address(): string {
    return this.opts.address;
  }

  get peerId(): string {
    return this.opts.peerId;
  }

  get connected(): boolean {
    return this.connectedFlag;
  }

  /** True when the peer acknowledged `seq` as durable. */
  holds(seq: number): boolean {
    return seq <= this.ackedUpTo && !(seq >= this.droppedFrom && seq <= this.droppedTo);
  }

  get backlog(): { updates: number; bytes: number } {
    return { updates: this.queue.length, bytes: this.queueBytes };
  }

  /** Age of the oldest update the peer has not acknowledged yet (0 when it holds everything). */
  get lagMs(): number {
    const oldest = this.queue.at(0);
    return oldest === undefined ? 0 : Date.now() - oldest.at;
  }

  /** Since the peer was last heard from, on either stream between us (-1: never). */
  get lastHeardMsAgo(): number {
    return this.lastHeardAt === 0 ? -1 : Date.now() - this.heardAt;
  }

  /** When the peer was last heard from, on either stream between us. */
  private get heardAt(): number {
    return Math.max(this.lastHeardAt, this.peerStreamHeardAt);
  }

  /**
   * The peer's own replication stream to this node carried a message (see peerService). Its
   * answers on our stream can wait behind megabytes this node sent it (its heartbeat replies
   * answer heartbeats queued after our data); its stream carries its own heartbeats, which our
   * data does not hold up.
   */
  heardOnPeerStream(): void {
    this.peerStreamHeardAt = Date.now();
  }

  /**
   * The failure detector: connected, and heard from within three heartbeat intervals, on this
   * link's stream or on the peer's stream to this node.
   */
  get reachable(): boolean {
    return this.connectedFlag && this.lastHeardAt > 0 && Date.now() - this.heardAt < 3 * this.opts.heartbeatIntervalMs;
  }

  start(): void {
    this.unsubscribeFaults = this.opts.faults.onChange((peerId, fault) => {
      if (peerId !== this.opts.peerId) return;
      if (fault.cut) this.stream?.cancel();
      else if (this.stream === undefined && !this.stopped) this.connect();
    });
    this.connect();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.opts.heartbeatIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribeFaults();
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.timers.forEach(clearTimeout);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.currentClient.close();
    this.endTraces('stopped');
  }

  enqueue(seq: number, docId: string, update: Uint8Array, trace?: OutboundTrace): void {
    // Bounded memory: past the limit, forget the backlog; anti-entropy sends what is missing.
    if (this.queueBytes + update.byteLength > this.opts.queueBytesMax) this.dropBacklog();
    this.queue.push({ seq, docId, update, at: Date.now(), trace });
    if (trace !== undefined) this.tracedQueued++;
    this.queuedDocs.add(docId);
    this.queueBytes += update.byteLength;
    // Updates enqueued in the same event-loop turn (concurrent writes, a streamed client's
    // burst) leave as one batch: one message, one apply pass and one ack on the peer, instead
    // of one each per update.
    this.flushSoon();
  }

  /**
   * Forgets the queued updates: the anti-entropy round that runs on every (re)connect sends
   * what the peer lacks as compact Yjs diffs instead. Dropped sequence numbers never count as
   * acked, even when a later cumulative ack covers them.
   */
  private dropBacklog(): void {
    this.droppedUpdates += this.queue.length;
    if (this.queue.length > 0) {
      this.droppedFrom = (this.queue.at(0) as Queued).seq;
      this.droppedTo = (this.queue.at(this.queue.length - 1) as Queued).seq;
    }
    this.endTraces('dropped');
    this.owed.dropped(this.queuedDocs.keys());
    this.queue.clear();
    this.queuedDocs.clear();
    this.queueBytes = 0;
  }

  /** Ends the spans of the queued updates (which the caller then forgets). */
  private endTraces(outcome: 'stopped' | 'dropped'): void {
    if (this.tracedQueued === 0) return;
    for (const q of this.queue) q.trace?.end(outcome);
    this.tracedQueued = 0;
  }

  /** Documents owed to the peer beyond the queue (dropped changes). */
  get owedDocuments(): number {
    return this.owed.size;
  }

  /** Whether `owedDocuments` names every such document (see OwedDocuments). */
  get owedComplete(): boolean {
    return this.owed.isComplete;
  }

  /** What this node owes the peer (owed and queued documents), for the hello it answers the peer with. */
  owedList(): OwedList {
    return this.owed.list(this.queuedDocs.keys());
  }

  /** Plans an anti-entropy round with the peer starting now: directed or not (see OwedDocuments). */
  planRound(): RoundPlan {
    return this.owed.plan();
  }

  /** The peer fetched our diffs for these documents: they are no longer owed. */
  peerPulled(docIds: readonly string[]): void {
    this.owed.pulled(docIds);
  }

  roundFinished(plan: RoundPlan, outcome: 'done' | 'failed' | 'refused', leftToPeer?: readonly string[]): void {
    this.owed.finished(plan, outcome, leftToPeer);
  }

  /**
   * The peer just opened its own stream to us, so it is up: if this link is down and waiting
   * out its reconnect backoff (say it dialled while the peer still had the cut in force), dial
   * now rather than after the backoff.
   */
  redialNow(): void {
    // Our dial may be in flight and refused yet (the peer still had the cut in force when it
    // arrived): then the refusal redials at once instead of backing off.
    if (this.stream !== undefined && !this.connectedFlag) this.peerUpWhileDialing = true;
    if (this.stream !== undefined || this.reconnectTimer === undefined) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reconnectDelayMs = firstReconnectDelayMs;
    this.connect();
  }

  private connect(): void {
    if (this.stopped || this.stream !== undefined || this.opts.faults.isCut(this.opts.peerId)) return;
    const md = new Metadata();
    md.set(nodeIdHeader, this.opts.selfId);
    // Reconnecting after a long silence: a fresh client, because the old one may sit on a dial
    // whose SYN was dropped during the cut and that the kernel retries only seconds later.
    // Unless its connection is still up (see connectionUp).
    const now = Date.now();
    if (this.lastDialAt !== 0 && now - Math.max(this.lastHeardAt, this.lastDialAt) > redialAfterMs && !connectionUp(this.currentClient)) {
      this.currentClient.close();
      this.currentClient = new PeerClient(this.opts.address, this.opts.credentials ?? credentials.createInsecure(), peerChannelOptions);
    }
    this.lastDialAt = now;
    this.peerUpWhileDialing = false;
    const stream = this.currentClient.replicate(md);
    this.stream = stream;
    this.writable = true;
    // The anti-entropy round that runs on every connect delivers what the peer lacks as diffs;
    // re-sending the backlog as well would make both cross (and be applied) twice. So after a
    // blip the backlog is re-sent only when it buys something: a write waits for the peer's
    // acks (QUORUM, ALL), whatever the backlog's size (a dropped update never counts as acked,
    // so its write would wait out its deadline although the round delivers it), or it is a few
    // small updates, which land before the round compares. It goes when the peer was silent past
    // the failure detector's grace (no write waits for its acks any more then).
    const silentMs = this.lastHeardAt === 0 ? 0 : now - this.heardAt;
    const acksAwaited = this.opts.acksAwaited();
    const worthResending = acksAwaited || (this.queue.length <= reconnectResendUpdatesMax && this.queueBytes <= reconnectBacklogBytesMax);
    if (!worthResending || silentMs > 3 * this.opts.heartbeatIntervalMs) this.dropBacklog();
    this.sentUpTo = this.ackedUpTo;
    this.owed.connecting();
    // What this node owes the peer goes in the hello the peer answers ours with (see owedList).
    this.send(stream, { body: { $case: 'hello', value: { nodeId: this.opts.selfId, clusterId: this.opts.clusterId, incarnation: this.opts.incarnation, owedDocuments: [], owedComplete: false } } });
    stream.on('data', (msg: PeerMessage) => this.onMessage(msg));
    stream.on('drain', () => {
      this.writable = true;
      this.flush();
    });
    const onDown = (): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.connectedFlag = false;
      if (this.stopped) return;
      const delay = this.peerUpWhileDialing ? 0 : this.reconnectDelayMs;
      this.reconnectDelayMs = this.peerUpWhileDialing ? firstReconnectDelayMs : Math.min(this.reconnectDelayMs * 2, this.opts.reconnectDelayMsMax);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.connect();
      }, delay);
    };
    stream.on('error', onDown);
    stream.on('end', onDown);
  }

  private onMessage(msg: PeerMessage): void {
    this.lastHeardAt = Date.now();
    const body = msg.body;
    if (body === undefined) return;
    switch (body.$case) {
      case 'hello':
        if (!this.connectedFlag) {
          this.connectedFlag = true;
          this.peerUpWhileDialing = false;
          this.owed.peerOwes({ documents: body.value.owedDocuments, complete: body.value.owedComplete });
          this.reconnectDelayMs = firstReconnectDelayMs;
          this.flush();
          this.opts.onConnected();
        }
        return;
      case 'ack': {
        const seq = Number(body.value.durableSeq);
        if (seq <= this.ackedUpTo) return;
        this.ackedUpTo = seq;
        while (this.queue.length > 0 && (this.queue.at(0) as Queued).seq <= seq) {
          const acked = this.queue.shift() as Queued;
          this.queuedDocs.remove(acked.docId);
          this.queueBytes -= acked.update.byteLength;
          if (acked.trace !== undefined) {
            acked.trace.end('acked');
            this.tracedQueued--;
          }
        }
        this.opts.onAck(seq);
        return;
      }
      case 'heartbeat':
      case 'batch':
        return;
    }
  }

  private flush(): void {
    const stream = this.stream;
    if (stream === undefined || !this.connectedFlag) return;
    while (this.writable) {
      const start = this.queue.firstIndexAfter(this.sentUpTo);
      if (start < 0) return;
      const updates = [];
      let bytes = 0;
      for (let i = start; i < this.queue.length && updates.length < this.opts.batchUpdatesMax && bytes < this.opts.batchBytesMax; i++) {
        const q = this.queue.at(i) as Queued;
        updates.push({ seq: BigInt(q.seq), documentId: q.docId, update: q.update, traceparent: q.trace?.traceparent ?? '' });
        bytes += q.update.byteLength;
      }
      this.sentUpTo = Number((updates[updates.length - 1] as { seq: bigint }).seq);
      this.writable = this.send(stream, { body: { $case: 'batch', value: { updates } } });
    }
  }

  private heartbeat(): void {
    // A stream that has heard nothing for many heartbeats sits on a dead connection: drop it
    // and dial again (keepalive resets the channel underneath). Unless the peer is heard on its
    // own stream while ours has data in flight: then the answers wait behind that data.
    const now = Date.now();
    const silent = (at: number): boolean => now - at > 6 * this.opts.heartbeatIntervalMs;
    const crossing = this.sentUpTo > this.ackedUpTo && !silent(this.peerStreamHeardAt);
    if (this.stream !== undefined && this.connectedFlag && silent(this.lastHeardAt) && !crossing) {
      this.stream.cancel();
      return;
    }
    if (this.stream !== undefined) this.send(this.stream, { body: { $case: 'heartbeat', value: { sentAtMs: BigInt(Date.now()) } } });
  }

  /** Writes now, or after the injected delay (every message gets the same delay: order holds). */
  private send(stream: ClientDuplexStream<PeerMessage, PeerMessage>, msg: PeerMessage): boolean {
    const delayMs = this.opts.faults.get(this.opts.peerId).delayMs;
    if (delayMs <= 0) return stream.write(msg);
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer);
      if (this.stream === stream) stream.write(msg);
    }, delayMs);
    this.timers.push(timer);
    return true;
  }
}
