import { DocumentId } from '../../../services/core/crdt/documentId';
import { renderJson } from '../../../services/core/crdt/renderJson';
import { TypedOperation } from '../../../services/core/crdt/typedOperation';
import { WriteResult } from '../../../services/node/DocumentNode';
import { Prng } from '../prng';
import { describeEffect, Effect, OpHistory, Write } from './OpHistory';
import { getDocument } from './getDocument';
import { rawClientEdit } from './rawClientEdit';
import { FieldKind, typedClientOp } from './typedClientOp';
import { SimCluster } from './SimCluster';
import { Endpoint } from './SimNetwork';
import { SimReplica } from './SimReplica';

export interface WorkloadOptions {
  readonly docIds: readonly DocumentId[];
  /** Share of writes made by a client that runs Yjs itself instead of typed operations. */
  readonly rawClientShare: number;
  /** Chance that a raw client reads the document right after a typed write to it. */
  readonly readAfterWriteRate: number;
  /** A raw client sends its update this many ticks (at most) after it read the document. */
  readonly rawClientDelayTicksMax: number;
  /**
   * Called when a replica answered a client's read, with the number of writes it accepted from
   * clients that are not acknowledged yet (the fault plan may crash it soon after).
   */
  readonly onRead: (replicaId: string, unackedWrites: number) => void;
  readonly log: (line: string) => void;
}

const fieldKinds: readonly FieldKind[] = ['text', 'list', 'map', 'counter'];
/** Only passed through: LOCAL acks wait for no peer, and the simulation reads no wall clock. */
const writeTimeoutMs = 10_000;

/** Random client writes on running replicas, recorded in the history with their acks. */
export class Workload {
  /** Client writes each incarnation accepted and has not acknowledged yet. */
  private readonly unacked = new Map<Endpoint, number>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly history: OpHistory,
    private readonly prng: Prng,
    private readonly opts: WorkloadOptions,
  ) {}

  issue(): void {
    const running = this.cluster.running();
    if (running.length === 0) return;
    const r = this.prng.pick(running);
    const docId = this.prng.pick(this.opts.docIds);
    if (this.prng.chance(this.opts.rawClientShare)) {
      this.rawSession(r, docId);
    } else {
      const effects = this.typed(r, docId);
      // Collaborators: another client often reads the document right after an edit, while the
      // edit's fsync still runs, and answers it.
      if (this.prng.chance(this.opts.readAfterWriteRate)) this.rawSession(r, docId, effects[0]);
    }
  }

  /** One applyOps call: one operation, or two on different fields (all or nothing). */
  private typed(r: SimReplica, docId: DocumentId): readonly Effect[] {
    const doc = r.store.peek(docId);
    const view = doc === undefined ? {} : renderJson(doc);
    const first = this.prng.pick(fieldKinds);
    const kinds = this.prng.chance(0.2) ? [first, this.prng.pick(fieldKinds.filter((k) => k !== first))] : [first];
    const ops: TypedOperation[] = [];
    const effects: Effect[] = [];
    for (const kind of kinds) typedClientOp(view, kind, this.prng, this.history, ops, effects);
    const w = this.history.record(docId, r.id, 'ops', this.cluster.queue.now, effects);
    this.track(w, r.node.applyOps(docId, ops, 'local', writeTimeoutMs), r);
    return effects;
  }

  /**
   * A client running Yjs: it reads the document from `r` through DocumentService.Get, edits its
   * own copy, and a little later pushes the diff, to `r` or to another replica behind the load
   * balancer. A replica that is down then refuses it (never acknowledged). `replyTo`: an edit
   * the client answers (see rawClientEdit).
   */
  private rawSession(r: SimReplica, docId: DocumentId, replyTo?: Effect): void {
    const clientId = this.cluster.freshClientId();
    const target = this.prng.chance(0.5) ? r.id : this.prng.pick(this.cluster.ids);
    const delayTicks = this.prng.int(this.opts.rawClientDelayTicksMax + 1);
    const edit = (state: Uint8Array | undefined): void => {
      const { update, effects } = rawClientEdit(state, clientId, this.prng, this.history, replyTo);
      if (update === undefined) return;
      const w = this.history.record(docId, target, 'raw', this.cluster.queue.now, effects);
      const answering = replyTo === undefined ? '' : ` answering ${describeEffect(replyTo)}`;
      this.opts.log(`write ${w.seq} (raw): a client read ${docId} from ${r.id}${answering}, will send to ${target}`);
      this.cluster.queue.schedule(delayTicks, () => {
        if (this.cluster.current(target) === undefined) return;
        const t = this.cluster.replica(target);
        this.track(w, t.node.pushUpdate(docId, update, 'local', writeTimeoutMs), t);
      });
    };
    // A document that does not exist yet reads as not-found: the client starts from nothing.
    getDocument(r.node, docId).then(
      (res) => {
        this.opts.onRead(r.id, this.unacked.get(r.endpoint) ?? 0);
        edit(res.update);
      },
      () => edit(undefined),
    );
  }

  private track(w: Write, done: Promise<WriteResult>, r: SimReplica): void {
    this.opts.log(`write ${w.seq} (${w.via}) on ${r.id} ${w.docId}: ${w.effects.map(describeEffect).join(' ')}`);
    this.unacked.set(r.endpoint, (this.unacked.get(r.endpoint) ?? 0) + 1);
    done.then(
      (res) => {
        this.unacked.set(r.endpoint, (this.unacked.get(r.endpoint) ?? 1) - 1);
        this.opts.log(`ack ${w.seq}`);
        w.acked = true;
        w.version = res.version;
      },
      (err: unknown) => {
        if (r.up) this.cluster.unexpected.push(`write ${w.seq} on ${r.id}: ${String(err)}`);
      },
    );
  }
}

