import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_DOCUMENT_ID,
  ATTR_NODE_ID,
  ATTR_PEER_NODE_ID,
  ATTR_REPLICATION_OUTCOME,
  ATTR_REPLICATION_SEQ,
  ATTR_UPDATE_BYTES,
  SPAN_REPLICATION_APPLY,
  SPAN_REPLICATION_SEND,
} from './names';
import { activeSampledSpanContext, contextFromTraceparent, endWithError, toTraceparent, tracer, tracingEnabled } from './tracing';

/** The trace of one update on its way to one peer: the context it carries, and its end. */
export interface OutboundTrace {
  /** W3C traceparent of the send span, carried in the peer batch (DocUpdate.traceparent). */
  readonly traceparent: string;
  /** `acked`: the peer holds it durably; `dropped`: the queue overflowed (anti-entropy repairs). */
  end(outcome: 'acked' | 'dropped' | 'stopped'): void;
}

/**
 * Starts the span of replicating one update to one peer, as a child of the write being served
 * (the active span). It ends when the peer acknowledges durability. Undefined, at the cost of one
 * boolean test, when tracing is off or the write is not sampled.
 */
export function startReplicationSend(selfId: string, peerId: string, seq: number, docId: string, bytes: number): OutboundTrace | undefined {
  if (!tracingEnabled()) return undefined;
  const parent = context.active();
  if (activeSampledSpanContext(parent) === undefined) return undefined;
  const span = tracer().startSpan(SPAN_REPLICATION_SEND, {
    kind: SpanKind.PRODUCER,
    attributes: {
      [ATTR_NODE_ID]: selfId, [ATTR_PEER_NODE_ID]: peerId, [ATTR_REPLICATION_SEQ]: seq, [ATTR_DOCUMENT_ID]: docId, [ATTR_UPDATE_BYTES]: bytes,
    },
  }, parent);
  const traceparent = toTraceparent(span.spanContext());
  let ended = false;
  return {
    traceparent,
    end: (outcome) => {
      if (ended) return;
      ended = true;
      span.setAttribute(ATTR_REPLICATION_OUTCOME, outcome);
      if (outcome === 'dropped') span.setStatus({ code: SpanStatusCode.ERROR, message: 'send queue overflowed; anti-entropy repairs the peer' });
      span.end();
    },
  };
}

/**
 * Runs the apply of one replicated update on the receiving node inside a span whose parent is
 * the sender's send span (from the batch's traceparent), so it joins the originating write's
 * trace. Updates without a traceparent (tracing off at the sender, or unsampled) get no span.
 */
export async function traceReplicationApply<T>(
  selfId: string,
  fromPeer: string,
  u: { readonly traceparent: string; readonly seq: bigint; readonly documentId: string; readonly update: Uint8Array },
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled() || u.traceparent === '') return fn();
  const parent = contextFromTraceparent(u.traceparent);
  if (parent === undefined || activeSampledSpanContext(parent) === undefined) return fn();
  const span = tracer().startSpan(SPAN_REPLICATION_APPLY, {
    kind: SpanKind.CONSUMER,
    attributes: {
      [ATTR_NODE_ID]: selfId, [ATTR_PEER_NODE_ID]: fromPeer, [ATTR_REPLICATION_SEQ]: Number(u.seq),
      [ATTR_DOCUMENT_ID]: u.documentId, [ATTR_UPDATE_BYTES]: u.update.byteLength,
    },
  }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    span.end();
    return result;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
}
