import { Metadata, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { ApplyStreamRequest, type ApplyStreamBatch, type ApplyStreamResults, type Operation, type WriteResponse } from '../../proto/gen/concord/v1/documents';
import { ackLevel } from './ackLevel';
import { callWithFailover } from './callWithFailover';
import type { WriteOptions } from './ConcordClientOptions';
import type { NodeEndpoint } from './NodeEndpoint';
import { callPurpose, type NodePool } from './NodePool';
import { notAppliedHeader } from './retryRule';
import { isServiceError, serviceError } from './serviceError';

// The client helper's streamed write path: many Apply writes in flight over one long-lived
// ApplyBatches stream to one node, each answered on its own (no per-call setup, so small writes cost a
// fraction of a unary call). Writes issued in the same event-loop turn leave in one message,
// and the node answers those that complete together in one. A write that fails fails alone. If
// the stream breaks, every write in flight fails with UNAVAILABLE (outcome unknown: like a
// unary Apply, it is never repeated, see retryRule.ts) and the next write opens a new stream,
// on another node if this one is down. A write the node refused before it took effect, for a
// reason of its own (not_applied: a replica, a stopping node), moves to a stream on another
// node, as a unary Apply moves on (rule 3 of retryRule.ts); the refusing stream is retired.

export interface DocumentWriterSettings {
  readonly pool: NodePool;
  readonly connectTimeoutMs: number;
  /** Default per-write deadline. */
  readonly deadlineMs: number;
  /** Called with each acknowledged write (session consistency). */
  readonly onWritten: (documentId: string, response: WriteResponse) => void;
}

interface Pending {
  readonly documentId: string;
  readonly resolve: (r: WriteResponse) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface OpenStream {
  readonly call: ClientDuplexStream<ApplyStreamBatch, ApplyStreamResults>;
  readonly endpoint: NodeEndpoint;
  readonly address: string;
  /** Its writes waiting for an answer. */
  readonly pending: Map<bigint, Pending>;
  /** Settles when the stream has ended or failed (its writes all settled). */
  readonly done: Promise<void>;
  readonly settle: () => void;
  /** Writes of this turn, sent together at its end. */
  outbox: ApplyStreamRequest[];
  outboxBytes: number;
  flushDue: boolean;
}

/** Writes packed into one stream message at most, and their operations' bytes (roughly). */
export const writerBatchWritesMax = 256;
export const writerBatchBytesMax = 1 << 20;

export class DocumentWriter {
  private stream: Promise<OpenStream> | undefined;
  /** What `stream` resolved to, while it is the writer's stream. */
  private current: OpenStream | undefined;
  /** Streams with writes in flight or open for more: the current one and any retired ones. */
  private readonly live = new Set<OpenStream>();
  private nextId = 1n;
  private closed = false;
  /** Writes accepted and not settled yet (close() waits for them, retries included). */
  private readonly calls = new Set<Promise<unknown>>();
  private readonly counts = { messagesSent: 0, writesSent: 0, messagesReceived: 0, answersReceived: 0 };

  constructor(private readonly settings: DocumentWriterSettings) {}

  /** Applies typed operations in one transaction, over the stream. */
  async apply(documentId: string, operations: readonly Operation[], options: WriteOptions = {}): Promise<WriteResponse> {
    if (this.closed) throw serviceError(status.FAILED_PRECONDITION, 'this writer is closed');
    const call = this.write(documentId, operations, options);
    const settled = call.catch(() => undefined);
    this.calls.add(settled);
    void settled.then(() => this.calls.delete(settled));
    return call;
  }

  private async write(documentId: string, operations: readonly Operation[], options: WriteOptions): Promise<WriteResponse> {
    const deadline = Date.now() + (options.deadlineMs ?? this.settings.deadlineMs);
    const refusedBy = new Set<NodeEndpoint>();
    for (let attempt = 0; ; attempt++) {
      const open = await this.open(deadline, refusedBy);
      // Retired meanwhile (its writes are answered, it takes no more), or an opening another
      // write started that went to a node this one refused: take another stream. Each pass
      // opens one to a node outside `refusedBy`, so this ends.
      if (open.call.writableEnded || refusedBy.has(open.endpoint)) {
        if (attempt > 2 * this.settings.pool.endpoints.length) throw serviceError(status.UNAVAILABLE, 'no write stream to a node that takes this write could be kept open');
        this.forget(open);
        continue;
      }
      try {
        const response = await this.send(open, documentId, operations, options, deadline);
        this.settings.onWritten(documentId, response);
        return response;
      } catch (error) {
        if (!(error instanceof NotAppliedRefusal) || refusedBy.has(open.endpoint)) throw error;
        // Refused before it took effect: another node may take it, and it cannot apply twice.
        refusedBy.add(open.endpoint);
        this.retire(open, error.code);
        if (refusedBy.size >= this.settings.pool.endpoints.length || Date.now() >= deadline) throw error;
      }
    }
  }

  private send(open: OpenStream, documentId: string, operations: readonly Operation[], options: WriteOptions, deadline: number): Promise<WriteResponse> {
    const id = this.nextId++;
    const deadlineMs = Math.max(1, deadline - Date.now());
    return new Promise<WriteResponse>((resolve, reject) => {
      // The server answers at its own deadline; this timer only covers a node that went silent.
      const timer = setTimeout(() => {
        open.pending.delete(id);
        reject(serviceError(status.DEADLINE_EXCEEDED, `no answer from ${open.address} within ${deadlineMs} ms; the write's outcome is unknown`));
      }, deadlineMs + 1000);
      open.pending.set(id, { documentId, resolve, reject, timer });
      this.enqueue(open, { id, apply: { documentId, operations: [...operations], ack: ackLevel(options.ack) }, timeoutMs: deadlineMs });
    });
  }

  /**
   * New writes go to another stream; this one ends once the node has answered the writes it
   * holds. A node that refused for being unavailable (stopping) is also avoided for a while.
   */
  private retire(open: OpenStream, code: number): void {
    if (code === status.UNAVAILABLE) this.settings.pool.markDown(open.endpoint);
    else this.settings.pool.markRefuses(open.endpoint, callPurpose.documentWrite);
    this.forget(open);
    this.end(open);
  }

  /**
   * Queues a write for this turn's message. A message holds at most `writerBatchWritesMax`
   * writes and about `writerBatchBytesMax` bytes (far below the node's 8 MiB request limit): a
   * write that would overflow it sends the message first, so a large write travels alone.
   */
  private enqueue(open: OpenStream, req: ApplyStreamRequest): void {
    const bytes = ApplyStreamRequest.encode(req).finish().byteLength + 8;
    if (open.outbox.length > 0 && open.outboxBytes + bytes > writerBatchBytesMax) this.flush(open);
    open.outbox.push(req);
    open.outboxBytes += bytes;
    if (open.outbox.length >= writerBatchWritesMax || open.outboxBytes >= writerBatchBytesMax) {
      this.flush(open);
      return;
    }
    if (open.flushDue) return;
    open.flushDue = true;
    setImmediate(() => this.flush(open));
  }

  private flush(open: OpenStream): void {
    open.flushDue = false;
    if (open.outbox.length === 0) return;
    const writes = open.outbox;
    open.outbox = [];
    open.outboxBytes = 0;
    if (open.call.writableEnded || open.call.destroyed) return;
    this.counts.messagesSent++;
    this.counts.writesSent += writes.length;
    open.call.write({ writes });
  }

  /** Stream messages and the writes or answers they carried, since the writer was made. */
  get traffic(): Readonly<{ messagesSent: number; writesSent: number; messagesReceived: number; answersReceived: number }> {
    return { ...this.counts };
  }

  /** Writes in flight right now. */
  get inflight(): number {
    let n = 0;
    for (const open of this.live) n += open.pending.size;
    return n;
  }

  /**
   * Refuses later writes, waits until every accepted write has settled (moving to another node
   * included), then ends the streams.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.calls]);
    await this.stream?.catch(() => undefined);
    this.current = undefined;
    this.stream = undefined;
    await Promise.all([...this.live].map((open) => {
      this.end(open);
      return open.done;
    }));
  }

  /** Sends what it holds and half-closes: the node answers the writes in flight, then ends it. */
  private end(open: OpenStream): void {
    if (open.call.writableEnded) return;
    this.flush(open);
    open.call.end();
  }

  /** New writes no longer go to `open`. */
  private forget(open: OpenStream): void {
    if (this.current !== open) return;
    this.current = undefined;
    this.stream = undefined;
  }

  /** The current stream, or a new one; never a current one to a node in `avoid` (it refused this write). */
  private open(deadline: number, avoid: ReadonlySet<NodeEndpoint>): Promise<OpenStream> {
    // Still opening, or open to a node that did not refuse this write: shared by every write.
    if (this.stream !== undefined && (this.current === undefined || !avoid.has(this.current.endpoint))) return this.stream;
    if (this.current !== undefined) {
      // Open to a node that refused this write: later writes go to the new stream.
      const old = this.current;
      this.forget(old);
      this.end(old);
    }
    const opening = callWithFailover({
      pool: this.settings.pool,
      // Opening a stream sends no write, so trying another node is always safe.
      idempotency: 'idempotent',
      deadline,
      connectTimeoutMs: this.settings.connectTimeoutMs,
      skip: avoid,
      purpose: callPurpose.documentWrite,
      attempt: async (endpoint): Promise<OpenStream> => {
        let settle: () => void = () => undefined;
        const done = new Promise<void>((resolve) => {
          settle = resolve;
        });
        return { call: endpoint.documents.applyBatches(), endpoint, address: endpoint.address, pending: new Map(), done, settle, outbox: [], outboxBytes: 0, flushDue: false };
      },
    }).then((open) => {
      this.live.add(open);
      this.watch(open);
      // Replaced while it opened: nobody's stream; the writes that awaited it see it ended and
      // take the current one.
      if (this.stream === opening) this.current = open;
      else this.end(open);
      return open;
    });
    this.stream = opening;
    opening.catch(() => {
      if (this.stream === opening) this.stream = undefined;
    });
    return opening;
  }

  private watch(open: OpenStream): void {
    const { call, endpoint, address } = open;
    call.on('data', (msg: ApplyStreamResults) => {
      this.counts.messagesReceived++;
      this.counts.answersReceived += msg.results.length;
      for (const res of msg.results) {
        const p = open.pending.get(res.id);
        if (p === undefined) continue;
        open.pending.delete(res.id);
        clearTimeout(p.timer);
        if (res.code === status.OK && res.result !== undefined) p.resolve(res.result);
        else if (res.notApplied && (res.code === status.UNAVAILABLE || res.code === status.FAILED_PRECONDITION)) p.reject(new NotAppliedRefusal(res.code, res.message));
        else p.reject(serviceError(res.code === status.OK ? status.INTERNAL : res.code, res.message || 'write failed without a result'));
      }
    });
    const broken = (error: unknown): void => {
      this.forget(open);
      this.live.delete(open);
      open.settle();
      open.outbox = []; // failed below with the rest of the writes in flight
      open.outboxBytes = 0;
      if (isServiceError(error) && (error.code === status.UNAVAILABLE || error.code === status.CANCELLED)) this.settings.pool.markDown(endpoint);
      const reason = isServiceError(error) ? `${status[error.code] ?? error.code}: ${error.details}` : 'the stream ended';
      for (const [id, p] of open.pending) {
        open.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(serviceError(status.UNAVAILABLE, `write stream to ${address} broke (${reason}); the write's outcome is unknown`));
      }
    };
    call.on('error', broken);
    call.on('end', () => broken(undefined));
  }
}

/** A write the node refused before it took effect (ApplyStreamResponse.not_applied). */
class NotAppliedRefusal extends Error {
  readonly details: string;
  readonly metadata = new Metadata();

  constructor(readonly code: number, details: string) {
    super(`${code} ${status[code] ?? code}: ${details}`);
    this.details = details;
    this.metadata.set(notAppliedHeader, 'true');
  }
}
