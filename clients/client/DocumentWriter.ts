import { status, type ClientDuplexStream } from '@grpc/grpc-js';
import type { ApplyStreamRequest, ApplyStreamResponse, Operation, WriteResponse } from '../../proto/gen/concord/v1/documents';
import { ackLevel } from './ackLevel';
import { callWithFailover } from './callWithFailover';
import type { WriteOptions } from './ConcordClientOptions';
import type { NodeEndpoint } from './NodeEndpoint';
import type { NodePool } from './NodePool';
import { isServiceError, serviceError } from './serviceError';

// The client helper's streamed write path: many Apply writes in flight over one long-lived
// ApplyStream to one node, each answered on its own (no per-call setup, so small writes cost a
// fraction of a unary call). A write that fails fails alone. If the stream breaks, every write
// in flight fails with UNAVAILABLE (outcome unknown: like a unary Apply, it is never repeated,
// see retryRule.ts) and the next write opens a new stream, on another node if this one is down.

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
  readonly call: ClientDuplexStream<ApplyStreamRequest, ApplyStreamResponse>;
  readonly endpoint: NodeEndpoint;
  readonly address: string;
}

export class DocumentWriter {
  private stream: Promise<OpenStream> | undefined;
  private readonly pending = new Map<bigint, Pending>();
  private nextId = 1n;
  private closed = false;

  constructor(private readonly settings: DocumentWriterSettings) {}

  /** Applies typed operations in one transaction, over the stream. */
  async apply(documentId: string, operations: readonly Operation[], options: WriteOptions = {}): Promise<WriteResponse> {
    if (this.closed) throw serviceError(status.FAILED_PRECONDITION, 'this writer is closed');
    const deadlineMs = options.deadlineMs ?? this.settings.deadlineMs;
    const { call, address } = await this.open(Date.now() + deadlineMs);
    const id = this.nextId++;
    const response = await new Promise<WriteResponse>((resolve, reject) => {
      // The server answers at its own deadline; this timer only covers a node that went silent.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(serviceError(status.DEADLINE_EXCEEDED, `no answer from ${address} within ${deadlineMs} ms; the write's outcome is unknown`));
      }, deadlineMs + 1000);
      this.pending.set(id, { documentId, resolve, reject, timer });
      call.write({ id, apply: { documentId, operations: [...operations], ack: ackLevel(options.ack) }, timeoutMs: deadlineMs });
    });
    this.settings.onWritten(documentId, response);
    return response;
  }

  /** Writes in flight right now. */
  get inflight(): number {
    return this.pending.size;
  }

  /** Ends the stream once every write in flight is answered; later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const open = this.stream;
    if (open === undefined) return;
    const { call } = await open.catch(() => ({ call: undefined }));
    if (call === undefined) return;
    await new Promise<void>((resolve) => {
      call.once('close', resolve);
      call.once('error', () => resolve());
      call.end();
    });
  }

  private open(deadline: number): Promise<OpenStream> {
    if (this.stream !== undefined) return this.stream;
    const opening = callWithFailover({
      pool: this.settings.pool,
      // Opening a stream sends no write, so trying another node is always safe.
      idempotency: 'idempotent',
      deadline,
      connectTimeoutMs: this.settings.connectTimeoutMs,
      attempt: async (endpoint) => ({ call: endpoint.documents.applyStream(), endpoint, address: endpoint.address }),
    }).then((open) => {
      this.watch(open);
      return open;
    });
    this.stream = opening;
    opening.catch(() => {
      if (this.stream === opening) this.stream = undefined;
    });
    return opening;
  }

  private watch({ call, endpoint, address }: OpenStream): void {
    call.on('data', (res: ApplyStreamResponse) => {
      const p = this.pending.get(res.id);
      if (p === undefined) return;
      this.pending.delete(res.id);
      clearTimeout(p.timer);
      if (res.code === status.OK && res.result !== undefined) p.resolve(res.result);
      else p.reject(serviceError(res.code === status.OK ? status.INTERNAL : res.code, res.message || 'write failed without a result'));
    });
    const broken = (error: unknown): void => {
      this.stream = undefined;
      if (isServiceError(error) && (error.code === status.UNAVAILABLE || error.code === status.CANCELLED)) this.settings.pool.markDown(endpoint);
      const reason = isServiceError(error) ? `${status[error.code] ?? error.code}: ${error.details}` : 'the stream ended';
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(serviceError(status.UNAVAILABLE, `write stream to ${address} broke (${reason}); the write's outcome is unknown`));
      }
    };
    call.on('error', broken);
    call.on('end', () => broken(undefined));
  }
}
