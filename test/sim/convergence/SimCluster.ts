import { DocumentId } from '../../../services/core/crdt/documentId';
import { RoundStats } from '../../../services/node/AntiEntropy';
import { MemoryEngine } from '../../../services/storage/MemoryEngine';
import { Prng } from '../prng';
import { EventQueue } from './EventQueue';
import { DiskOptions, SimDisk } from './SimDisk';
import { Directory, Endpoint, NetworkFaults, SimNetwork, SimTimeout } from './SimNetwork';
import { ReplicaOptions, SimReplica } from './SimReplica';
import { simAntiEntropyPeer } from './simAntiEntropyPeer';
import { KeyCounts } from '../../../services/node/KeyCounts';
import { OwedDocuments } from '../../../services/node/OwedDocuments';

export interface ClusterOptions extends ReplicaOptions {
  readonly replicaCount: number;
  readonly disk: DiskOptions;
  readonly network: NetworkFaults;
  readonly callTimeoutTicks: number;
  /**
   * Model PeerLink's bookkeeping for directed heals: a push waits for the receiver's durable
   * ack; one that times out is owed (OwedDocuments), and rounds plan with the owed lists.
   */
  readonly trackOwed?: boolean;
}

/** One replica incarnation's outbound link to a peer: what it owes and what awaits an ack. */
interface SimLink {
  readonly owed: OwedDocuments;
  /** Pushes awaiting the peer's ack, per document (PeerLink's queue). */
  readonly pending: KeyCounts<string>;
}

/**
 * The replicas of one run on one simulated network. Models the push path of Replicator and
 * PeerLink without gRPC: every change a replica accepted from a client (origin `local` or
 * `client`) goes to every other replica as one lossy message, which the receiver applies with
 * origin `remote:<sender>` and does not relay. Anti-entropy is the real AntiEntropy.
 */
export class SimCluster implements Directory {
  readonly network: SimNetwork;
  readonly ids: readonly string[];
  private readonly replicas = new Map<string, SimReplica>();
  /** Per replica (this incarnation), per peer. */
  private readonly links = new Map<string, Map<string, SimLink>>();
  private readonly usedClientIds = new Set<number>();
  /** Errors a correct node never raises here (timeouts are expected and not listed). */
  readonly unexpected: string[] = [];

  constructor(readonly queue: EventQueue, private readonly prng: Prng, private readonly opts: ClusterOptions) {
    this.network = new SimNetwork(queue, prng, this, opts.network);
    this.ids = Array.from({ length: opts.replicaCount }, (_, i) => `r${i}`);
    for (const id of this.ids) this.boot(id, new MemoryEngine(), 1);
  }

  current(id: string): Endpoint | undefined {
    const r = this.replicas.get(id);
    return r?.up === true ? r.endpoint : undefined;
  }

  replica(id: string): SimReplica {
    const r = this.replicas.get(id);
    if (r === undefined) throw new Error(`no replica ${id}`);
    return r;
  }

  running(): SimReplica[] {
    return this.ids.map((id) => this.replica(id)).filter((r) => r.up);
  }

  /** A Yjs client id no replica or client of this run has used (restarts take fresh ones). */
  freshClientId(): number {
    let id = 1 + this.prng.int(0x7fff_fffe);
    while (this.usedClientIds.has(id)) id = 1 + this.prng.int(0x7fff_fffe);
    this.usedClientIds.add(id);
    return id;
  }

  crash(id: string): void {
    this.replica(id).crash();
  }

  restart(id: string): void {
    const old = this.replica(id);
    if (old.up) return;
    this.boot(id, old.disk.durable.snapshot(), old.endpoint.incarnation + 1);
  }

  /**
   * One anti-entropy round from `from` with `to`; undefined when it timed out or `from` is down.
   * With owed tracking, `reconnect` models the round a (re)connect runs: `to` named its owed
   * list in its hello, so the round is directed when both lists are complete.
   */
  async round(from: string, to: string, reconnect = false): Promise<RoundStats | undefined> {
    const r = this.replicas.get(from);
    if (r?.up !== true) return undefined;
    const peer = simAntiEntropyPeer(this.network, r.endpoint, to, (ep) => this.replica(ep.id).antiEntropy, this.opts.callTimeoutTicks);
    const link = this.link(from, to);
    if (link !== undefined && reconnect) {
      link.owed.connecting();
      const theirs = this.link(to, from);
      if (theirs !== undefined && this.replica(to).up) link.owed.peerOwes(theirs.owed.list(theirs.pending.keys()));
    }
    const plan = link?.owed.plan();
    try {
      const stats = await r.antiEntropy.round(to, peer, undefined, plan?.directed === true ? plan.documents : undefined);
      if (plan !== undefined) link?.owed.finished(plan, stats === undefined ? 'refused' : 'done', stats?.leftToPeer);
      return stats;
    } catch (err) {
      if (plan !== undefined) link?.owed.finished(plan, 'failed');
      if (!(err instanceof SimTimeout) && r.up) this.unexpected.push(`round ${from}->${to}: ${String(err)}`);
      return undefined;
    }
  }

  /** `from`'s link to `to` in its current incarnation (undefined without owed tracking). */
  link(from: string, to: string): SimLink | undefined {
    return this.links.get(from)?.get(to);
  }

  private boot(id: string, durable: MemoryEngine, incarnation: number): void {
    const disk = new SimDisk(durable, this.queue, this.prng, this.opts.disk);
    const r = new SimReplica({ id, incarnation }, disk, this.freshClientId(), this.opts);
    this.replicas.set(id, r);
    if (this.opts.trackOwed === true) {
      // A new incarnation knows nothing of what its earlier life left undelivered.
      const links = new Map<string, SimLink>(this.ids.filter((to) => to !== id).map((to) => [to, { owed: new OwedDocuments(), pending: new KeyCounts<string>() }]));
      this.links.set(id, links);
      r.antiEntropy.onPulled = (peerId, docIds) => links.get(peerId)?.owed.pulled(docIds);
      // As in the node: a round refused while one with that peer ran runs when that one ends.
      r.antiEntropy.onRoundWanted = (peerId) => void this.round(id, peerId);
    }
    r.store.onChange((c) => {
      if (c.origin !== 'local' && c.origin !== 'client') return;
      for (const to of this.ids) {
        if (to === id) continue;
        const link = this.link(id, to);
        if (link === undefined) {
          this.network.send(r.endpoint, to, (receiver) => void this.applyPush(receiver, c.docId, c.update, id).catch(() => undefined));
          continue;
        }
        // The push waits for the peer's durable ack; without one in time it is owed.
        link.pending.add(c.docId);
        const settle = (acked: boolean): void => {
          link.pending.remove(c.docId);
          if (!acked) link.owed.dropped([c.docId]);
        };
        this.network.call(r.endpoint, to, (receiver) => this.applyPush(receiver, c.docId, c.update, id), this.opts.callTimeoutTicks)
          .then(() => settle(true), () => settle(false));
      }
    });
  }

  /** Applies a push; resolves once it is durable (the ack), rejects when it failed. */
  private async applyPush(receiver: Endpoint, docId: DocumentId, update: Uint8Array, from: string): Promise<void> {
    const r = this.replica(receiver.id);
    try {
      await r.store.applyUpdate(docId, update.slice(), `remote:${from}`);
    } catch (err) {
      if (r.up) this.unexpected.push(`push ${from}->${receiver.id} ${docId}: ${String(err)}`);
      throw err;
    }
  }
}
