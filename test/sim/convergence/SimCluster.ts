import { DocumentId } from '../../../services/core/crdt/documentId';
import { RoundStats } from '../../../services/node/AntiEntropy';
import { MemoryEngine } from '../../../services/storage/MemoryEngine';
import { Prng } from '../prng';
import { EventQueue } from './EventQueue';
import { DiskOptions, SimDisk } from './SimDisk';
import { Directory, Endpoint, NetworkFaults, SimNetwork, SimTimeout } from './SimNetwork';
import { ReplicaOptions, SimReplica } from './SimReplica';
import { simAntiEntropyPeer } from './simAntiEntropyPeer';

export interface ClusterOptions extends ReplicaOptions {
  readonly replicaCount: number;
  readonly disk: DiskOptions;
  readonly network: NetworkFaults;
  readonly callTimeoutTicks: number;
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

  /** One anti-entropy round from `from` with `to`; undefined when it timed out or `from` is down. */
  async round(from: string, to: string): Promise<RoundStats | undefined> {
    const r = this.replicas.get(from);
    if (r?.up !== true) return undefined;
    const peer = simAntiEntropyPeer(this.network, r.endpoint, to, (ep) => this.replica(ep.id).antiEntropy, this.opts.callTimeoutTicks);
    try {
      return await r.antiEntropy.round(to, peer);
    } catch (err) {
      if (!(err instanceof SimTimeout) && r.up) this.unexpected.push(`round ${from}->${to}: ${String(err)}`);
      return undefined;
    }
  }

  private boot(id: string, durable: MemoryEngine, incarnation: number): void {
    const disk = new SimDisk(durable, this.queue, this.prng, this.opts.disk);
    const r = new SimReplica({ id, incarnation }, disk, this.freshClientId(), this.opts);
    this.replicas.set(id, r);
    r.store.onChange((c) => {
      if (c.origin !== 'local' && c.origin !== 'client') return;
      for (const to of this.ids) {
        if (to !== id) this.network.send(r.endpoint, to, (receiver) => this.applyPush(receiver, c.docId, c.update, id));
      }
    });
  }

  private applyPush(receiver: Endpoint, docId: DocumentId, update: Uint8Array, from: string): void {
    const r = this.replica(receiver.id);
    r.store.applyUpdate(docId, update.slice(), `remote:${from}`).catch((err: unknown) => {
      if (r.up) this.unexpected.push(`push ${from}->${receiver.id} ${docId}: ${String(err)}`);
    });
  }
}
