import * as Y from 'yjs';
import { DocumentId } from '../core/crdt/documentId';
import { TypedOperation } from '../core/crdt/typedOperation';
import { DecodedVersion, versionCovered } from '../core/crdt/versionToken';
import { DomainError, notApplied } from '../core/errors/DomainError';
import { AntiEntropy } from './AntiEntropy';
import { callUnary } from './callUnary';
import { DocumentStore } from './DocumentStore';
import { AckLevel, Replicator } from './Replicator';
import { TrafficStats } from './TrafficStats';
import { traceAckWait, tracePersist } from '../telemetry/documentTelemetry';

export interface WriteResult {
  readonly version: Uint8Array;
  readonly ackedBy: number;
}

/** Between catch-up fetches while a read waits for a version it lacks. */
const catchUpRetryMs = 200;

/**
 * The convergent path of one node: the document store, push replication with ack levels,
 * anti-entropy, and catch-up for reads that carry a version token (read-your-writes).
 */
export class DocumentNode {
  constructor(
    readonly nodeId: string,
    readonly role: 'master' | 'witness' | 'replica',
    readonly store: DocumentStore,
    readonly replicator: Replicator,
    readonly antiEntropy: AntiEntropy,
    readonly traffic: TrafficStats,
    /** The masters of the cluster (this one included when it is one), named to writers a replica refuses. */
    private readonly masters: readonly string[] = [],
  ) {}

  async applyOps(docId: DocumentId, ops: readonly TypedOperation[], level: AckLevel, timeoutMs: number): Promise<WriteResult> {
    this.assertWritable();
    const { update, version } = await tracePersist(this.nodeId, docId, level, 'local', () => this.store.applyOps(docId, ops));
    return this.ack(docId, update, version, level, timeoutMs);
  }

  async pushUpdate(docId: DocumentId, update: Uint8Array, level: AckLevel, timeoutMs: number): Promise<WriteResult> {
    this.assertWritable();
    const { version } = await tracePersist(this.nodeId, docId, level, 'client', async () => ({
      update,
      version: await this.store.applyUpdate(docId, update, 'client'),
    }));
    return this.ack(docId, update, version, level, timeoutMs);
  }

  /**
   * The version token is the one taken when the write was applied: a token taken now could
   * name later changes that are not durable yet, which a crash could make unreachable.
   */
  private async ack(docId: DocumentId, update: Uint8Array, version: Uint8Array, level: AckLevel, timeoutMs: number): Promise<WriteResult> {
    const ackedBy = await traceAckWait(this.nodeId, level, this.replicator.required(level), () => this.replicator.waitFor(docId, update, level, timeoutMs));
    return { version, ackedBy };
  }

  /** A witness has no documents to read either; say so rather than answer "not found". */
  assertHoldsDocuments(): void {
    if (this.role === 'witness') {
      throw new DomainError('read-only', `node ${this.nodeId} is a witness: it votes on authoritative operations and holds no documents; use a master${this.namedMasters()}`, { masters: this.masters.join(','), ...notApplied });
    }
  }

  private assertWritable(): void {
    if (this.role !== 'master') {
      throw new DomainError('read-only', `node ${this.nodeId} is a ${this.role} and accepts no document writes; send writes to a master${this.namedMasters()}`, { masters: this.masters.join(','), ...notApplied });
    }
  }

  private namedMasters(): string {
    return this.masters.length === 0 ? '' : ` (${this.masters.join(', ')})`;
  }

  /**
   * Waits until this node has `version` of the document, fetching what it lacks from every
   * reachable peer (and taking pushes as they arrive), or fails at the deadline.
   */
  async catchUp(docId: DocumentId, version: DecodedVersion, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const covered = (): boolean => {
      const doc = this.store.peek(docId);
      return doc !== undefined ? versionCovered(doc, version) : version.sv.size === 0 && version.ds.clients.size === 0;
    };
    while (!covered()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DomainError('deadline', `node ${this.nodeId} has not reached the requested version of ${docId} within the deadline`);
      }
      await Promise.race([this.fetchFromPeers(docId, Math.min(left, 2000)), this.nextChange(docId, Math.min(left, catchUpRetryMs))]);
      if (!covered()) await this.nextChange(docId, Math.min(deadline - Date.now(), catchUpRetryMs));
    }
  }

  private async fetchFromPeers(docId: DocumentId, timeoutMs: number): Promise<void> {
    const doc = this.store.peek(docId);
    const sv = doc === undefined ? new Uint8Array() : Y.encodeStateVector(doc);
    await Promise.all(this.replicator.links.filter((l) => l.connected).map(async (link) => {
      try {
        const res = await callUnary(link.client.sync.bind(link.client), {
          nodeId: this.nodeId,
          documents: [{ documentId: docId, stateVector: sv, update: new Uint8Array(), deleteSetDigest: new Uint8Array() }],
          pullOnly: true,
        }, timeoutMs);
        for (const d of res.documents) {
          this.traffic.catchUpBytesReceived += d.update.length + d.stateVector.length;
          if (d.update.length > 0) await this.store.applyUpdate(docId, d.update, 'catch-up', 'trusted');
        }
      } catch {
        // An unreachable peer just does not help; others or later pushes may.
      }
    }));
  }

  private nextChange(docId: DocumentId, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      const off = this.store.onDocumentChange(docId, finish);
      function finish(): void {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }
}
