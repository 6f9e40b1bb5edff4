import { ServerDuplexStream, status } from '@grpc/grpc-js';
import { ApplyStreamBatch, ApplyStreamRequest, ApplyStreamResponse, ApplyStreamResults, WriteResponse } from '../../proto/gen/concord/v1/documents';
import { DomainError, invalidArgument } from '../core/errors/DomainError';
import { onceThisTurn } from '../node/onceThisTurn';
import { toServiceError } from './errorTable';

/**
 * Writes in flight on one stream past which it stops reading until some finish. One message
 * may still carry a batch past it; a write beyond twice this many fails alone (RESOURCE_EXHAUSTED).
 */
export const applyStreamInflightMax = 1024;

/**
 * The streamed write path: each write of a batch is one Apply, run as the unary call would run
 * it (`apply`), and answered on the stream by id as soon as it completes; answers that complete
 * in the same event-loop turn leave in one message. A failed write is answered with its status
 * code and message (mapped by the error table, as for unary calls) and the stream goes on. The
 * stream ends after the client ends its side and every write in flight has been answered; if
 * the client cancels, the writes already taken still complete.
 */
export function applyStreamHandler(
  apply: (req: ApplyStreamRequest, timeoutMs: number) => Promise<WriteResponse>,
  defaultTimeoutMs: number,
  /** Checks each write before it runs, for this stream's caller (see CallAuthorizer.perMessage); throws to refuse it. */
  authorize?: (call: ServerDuplexStream<ApplyStreamBatch, ApplyStreamResults>) => (req: ApplyStreamRequest) => void,
) {
  return (call: ServerDuplexStream<ApplyStreamBatch, ApplyStreamResults>): void => {
    const allowed = authorize?.(call);
    const inflight = new Set<bigint>();
    let ended = false;
    let paused = false;
    let outbox: ApplyStreamResponse[] = [];
    const flush = (): void => {
      if (outbox.length === 0) return;
      const results = outbox;
      outbox = [];
      if (!call.cancelled && !call.writableEnded) call.write({ results });
    };
    const flushSoon = onceThisTurn(flush);
    const answer = (res: ApplyStreamResponse): void => {
      outbox.push(res);
      flushSoon();
    };
    const maybeFinish = (): void => {
      if (ended && inflight.size === 0 && !call.writableEnded) {
        flush();
        call.end();
      }
      if (paused && inflight.size < applyStreamInflightMax / 2) {
        paused = false;
        call.resume();
      }
    };
    const take = (req: ApplyStreamRequest): void => {
      const id = req.id;
      const fail = (err: unknown): void => {
        const e = toServiceError(err);
        answer({ id, result: undefined, code: e.code ?? status.INTERNAL, message: e.details ?? '', notApplied: e.metadata?.get('concord-not-applied')[0] === 'true' });
      };
      if (inflight.has(id)) {
        fail(invalidArgument(`write id ${id} is already in flight on this stream`));
        return;
      }
      if (req.apply === undefined) {
        fail(invalidArgument(`write ${id} has no apply request`));
        return;
      }
      if (inflight.size >= 2 * applyStreamInflightMax) {
        fail(new DomainError('too-large', `at most ${2 * applyStreamInflightMax} writes may be in flight on one stream; write ${id} was not applied`));
        return;
      }
      try {
        allowed?.(req);
      } catch (err) {
        fail(err);
        return;
      }
      inflight.add(id);
      apply(req, req.timeoutMs > 0 ? req.timeoutMs : defaultTimeoutMs).then(
        (result) => answer({ id, result, code: status.OK, message: '', notApplied: false }),
        fail,
      ).finally(() => {
        inflight.delete(id);
        maybeFinish();
      });
    };
    call.on('data', (batch: ApplyStreamBatch) => {
      for (const req of batch.writes) take(req);
      if (inflight.size >= applyStreamInflightMax && !paused) {
        paused = true;
        call.pause();
      }
    });
    call.on('end', () => {
      ended = true;
      maybeFinish();
    });
    call.on('error', () => {
      ended = true;
    });
  };
}
