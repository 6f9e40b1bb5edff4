import { createHash } from 'node:crypto';
import { HashFn } from '../../../services/core/crdt/stateHash';
import { AntiEntropy } from '../../../services/node/AntiEntropy';
import { DocumentNode } from '../../../services/node/DocumentNode';
import { DocumentStore } from '../../../services/node/DocumentStore';
import { TrafficStats } from '../../../services/node/TrafficStats';
import { localAcksOnly } from './localAcksOnly';
import { SimDisk } from './SimDisk';
import { Endpoint } from './SimNetwork';

/** SHA-256, as the node uses: deterministic, so digests are equal across runs of one seed. */
export const sha256: HashFn = (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest());

export interface ReplicaOptions {
  readonly compactUpdatesMax: number;
}

/**
 * One incarnation of a replica process: the real DocumentStore and AntiEntropy over a SimDisk.
 * A restart builds a new incarnation from the durable part of the old disk with a fresh Yjs
 * client id, as the node does at start (a reused id after losing writes would fork its clock).
 */
export class SimReplica {
  readonly store: DocumentStore;
  readonly antiEntropy: AntiEntropy;
  /** The node's write path (ack levels, version tokens), as the DocumentService calls it. */
  readonly node: DocumentNode;
  private alive = true;

  constructor(
    readonly endpoint: Endpoint,
    readonly disk: SimDisk,
    readonly clientId: number,
    opts: ReplicaOptions,
  ) {
    this.store = new DocumentStore({ engine: disk, clientId, hash: sha256, compactUpdatesMax: opts.compactUpdatesMax });
    this.store.load();
    const traffic = new TrafficStats();
    this.antiEntropy = new AntiEntropy(endpoint.id, this.store, sha256, traffic);
    this.node = new DocumentNode(endpoint.id, 'master', this.store, localAcksOnly, this.antiEntropy, traffic);
  }

  get id(): string {
    return this.endpoint.id;
  }

  get up(): boolean {
    return this.alive;
  }

  /** Kills the process: unflushed writes are lost and its pending promises never settle. */
  crash(): void {
    this.alive = false;
    this.disk.crash();
  }
}

