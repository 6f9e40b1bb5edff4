import type { ChannelCredentials } from '@grpc/grpc-js';
import { DocumentId } from '../core/crdt/documentId';
import { DomainError } from '../core/errors/DomainError';
import { Change, DocumentStore } from './DocumentStore';
import { LinkFaults } from './LinkFaults';
import { PeerLink } from './PeerLink';
import { startReplicationSend } from '../telemetry/replicationTelemetry';

export interface PeerConfig {
  readonly id: string;
  readonly address: string;
  readonly role: 'master' | 'witness' | 'replica';
}

export interface ReplicatorOptions {
  readonly selfId: string;
  readonly clusterId: string;
  readonly incarnation: bigint;
  readonly peers: readonly PeerConfig[];
  readonly store: DocumentStore;
  readonly faults: LinkFaults;
  readonly heartbeatIntervalMs?: number;
  /** How links dial their peers (default insecure). */
  readonly credentials?: ChannelCredentials;
  readonly onPeerConnected?: (peerId: string) => void;
}

export type AckLevel = 'local' | 'quorum' | 'all';

interface Waiter {
  readonly seq: number;
  readonly need: number;
  readonly resolve: (ackedBy: number) => void;
}

/**
 * Push replication of the convergent path: every update this node accepts from a client gets
 * an outbound sequence number and goes to every peer that holds documents (masters and
 * replicas; never a witness). Writes that asked for QUORUM or ALL wait here for the peers'
 * durability acks. Updates received from peers are not relayed: anti-entropy covers paths a
 * partition leaves indirect.
 */
export class Replicator {
  readonly links: PeerLink[];
  private nextSeq = 1;
  private readonly seqOfUpdate = new WeakMap<Uint8Array, number>();
  private waiters: Waiter[] = [];
  private readonly masters: number;

  constructor(private readonly opts: ReplicatorOptions) {
    const holders = opts.peers.filter((p) => p.role !== 'witness');
    this.masters = 1 + opts.peers.filter((p) => p.role === 'master').length;
    this.links = holders.map((p) => new PeerLink({
      selfId: opts.selfId,
      clusterId: opts.clusterId,
      incarnation: opts.incarnation,
      peerId: p.id,
      address: p.address,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 500,
      reconnectDelayMsMax: 1000,
      batchUpdatesMax: 512,
      batchBytesMax: 1 << 20,
      queueBytesMax: 64 << 20,
      faults: opts.faults,
      credentials: opts.credentials,
      onConnected: () => opts.onPeerConnected?.(p.id),
      onAck: () => this.checkWaiters(),
      acksAwaited: () => this.waiters.length > 0,
    }));
    opts.store.onChange((c) => this.onChange(c));
  }

  start(): void {
    this.links.forEach((l) => l.start());
  }

  stop(): void {
    this.links.forEach((l) => l.stop());
    this.waiters = [];
  }

  private onChange(change: Change): void {
    if (change.origin !== 'local' && change.origin !== 'client') return;
    const seq = this.nextSeq++;
    this.seqOfUpdate.set(change.update, seq);
    for (const link of this.links) {
      // Traced writes only (one boolean test otherwise): a span per peer, ended by its ack.
      const trace = startReplicationSend(this.opts.selfId, link.peerId, seq, change.docId, change.update.byteLength);
      link.enqueue(seq, change.docId, change.update, trace);
    }
  }

  /** Masters (this one included) that must hold a write durably for `level`. */
  required(level: AckLevel): number {
    if (level === 'local') return 1;
    if (level === 'all') return this.masters;
    return Math.floor(this.masters / 2) + 1;
  }

  /**
   * Resolves with the number of masters holding `update` durably once `level` is reached.
   * At the deadline it fails: UNAVAILABLE when too few masters are reachable to ever reach the
   * level now, DEADLINE_EXCEEDED otherwise. Either way the write stays durable here and keeps
   * replicating; only the promise of the ack level was not met.
   */
  async waitFor(docId: DocumentId, update: Uint8Array, level: AckLevel, timeoutMs: number): Promise<number> {
    const need = this.required(level);
    const seq = this.seqOfUpdate.get(update);
    if (need <= 1) return 1 + (seq === undefined ? 0 : this.ackedBy(seq));
    if (seq === undefined) return 1; // empty update: nothing to replicate
    if (this.ackedBy(seq) + 1 >= need) return 1 + this.ackedBy(seq);
    return new Promise<number>((resolve, reject) => {
      // Fail fast: when too few masters have been reachable for a few heartbeats, the level
      // cannot be reached soon; say so now instead of at the deadline.
      const graceMs = 3 * (this.opts.heartbeatIntervalMs ?? 500);
      let shortSince: number | undefined;
      const fail = (kind: 'unavailable' | 'deadline'): void => {
        clearTimeout(timer);
        clearInterval(probe);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const reachable = this.reachableMasters();
        const have = 1 + this.ackedBy(seq);
        const facts = { 'reachable-masters': [this.opts.selfId, ...reachable].join(','), 'acked-by': String(have) };
        const what = `write to ${docId} is durable on ${have} of ${this.masters} masters; ${level.toUpperCase()} needs ${need}`;
        if (kind === 'unavailable' || reachable.length + 1 < need) {
          reject(new DomainError('unavailable', `${what}, and only ${reachable.length + 1} are reachable (${facts['reachable-masters']}); it will replicate when peers return`, facts));
        } else {
          reject(new DomainError('deadline', `${what} (deadline reached; it keeps replicating)`, facts));
        }
      };
      const waiter: Waiter = {
        seq,
        need,
        resolve: (n) => {
          clearTimeout(timer);
          clearInterval(probe);
          resolve(n);
        },
      };
      const timer = setTimeout(() => fail('deadline'), Math.max(0, timeoutMs));
      const probe = setInterval(() => {
        if (this.reachableMasters().length + 1 >= need) shortSince = undefined;
        else if (shortSince === undefined) shortSince = Date.now();
        else if (Date.now() - shortSince >= graceMs) fail('unavailable');
      }, 50);
      this.waiters.push(waiter);
    });
  }

  private reachableMasters(): string[] {
    return this.links.filter((l) => l.reachable && this.isMaster(l.peerId)).map((l) => l.peerId);
  }

  private isMaster(peerId: string): boolean {
    return this.opts.peers.some((p) => p.id === peerId && p.role === 'master');
  }

  private ackedBy(seq: number): number {
    return this.links.filter((l) => this.isMaster(l.peerId) && l.holds(seq)).length;
  }

  private checkWaiters(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      const n = this.ackedBy(w.seq) + 1;
      if (n < w.need) return true;
      w.resolve(n);
      return false;
    });
  }
}
