import { context, Counter, ROOT_CONTEXT, Span, SpanStatusCode, trace } from '@opentelemetry/api';
import type { AntiEntropyPeer, RoundStats } from '../node/AntiEntropy';
import {
  ATTR_AE_BYTES_RECEIVED,
  ATTR_AE_BYTES_SENT,
  ATTR_AE_DIFFERING_BUCKETS,
  ATTR_AE_DOCUMENTS,
  ATTR_AE_LEVELS_WALKED,
  ATTR_AE_DIRECTED,
  ATTR_DIRECTION,
  ATTR_NODE_ID,
  ATTR_PEER_NODE_ID,
  ATTR_RESULT,
  METRIC_ANTI_ENTROPY_BYTES,
  METRIC_ANTI_ENTROPY_ROUNDS,
  SPAN_ANTI_ENTROPY_ROUND,
} from './names';
import { meter, metricsEnabled, tracer, tracingEnabled } from './tracing';

/** One anti-entropy round as telemetry sees it. */
export interface TracedRound {
  /** The port to run the round over (the given one, wrapped when tracing). */
  readonly peer: AntiEntropyPeer;
  /** The round ended; undefined stats = it did not run (one was already running). */
  finish(stats: RoundStats | undefined): void;
  failed(err: unknown): void;
}

let instruments: { rounds: Counter; bytes: Counter } | undefined;

function counters(): { rounds: Counter; bytes: Counter } {
  instruments ??= {
    rounds: meter().createCounter(METRIC_ANTI_ENTROPY_ROUNDS, { description: 'Anti-entropy rounds with a peer, by result (in_sync, repaired, failed)' }),
    bytes: meter().createCounter(METRIC_ANTI_ENTROPY_BYTES, { description: 'Bytes exchanged by anti-entropy (digests and diffs), by direction', unit: 'By' }),
  };
  return instruments;
}

/**
 * Traces one anti-entropy round with `peerId`. A round whose digest walk finds nothing to repair
 * (the steady state, every couple of seconds per peer) gets no span, only metrics; the span
 * `concord.anti_entropy.round` starts, back-dated to the round's start, at the first Sync call,
 * so the Sync and PushDiff calls (and their server spans on the peer) are its children, and it
 * ends with the documents and bytes exchanged.
 */
export function traceAntiEntropyRound(selfId: string, peerId: string, peer: AntiEntropyPeer): TracedRound {
  if (!tracingEnabled() && !metricsEnabled()) return { peer, finish: () => undefined, failed: () => undefined };
  const startedAt = Date.now();
  let span: Span | undefined;
  const within = <T>(fn: () => Promise<T>): Promise<T> => {
    if (!tracingEnabled()) return fn();
    span ??= tracer().startSpan(SPAN_ANTI_ENTROPY_ROUND, { startTime: startedAt, root: true, attributes: { [ATTR_NODE_ID]: selfId, [ATTR_PEER_NODE_ID]: peerId } }, ROOT_CONTEXT);
    return context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
  };
  const peerAttrs = { [ATTR_PEER_NODE_ID]: peerId };
  return {
    peer: {
      digest: (req, ms) => peer.digest(req, ms),
      sync: (req, ms) => within(() => peer.sync(req, ms)),
      pushDiff: (req, ms) => within(() => peer.pushDiff(req, ms)),
    },
    finish: (stats) => {
      if (stats === undefined) return;
      if (metricsEnabled()) {
        const c = counters();
        c.rounds.add(1, { ...peerAttrs, [ATTR_RESULT]: stats.documents > 0 ? 'repaired' : 'in_sync' });
        c.bytes.add(stats.bytesSent, { ...peerAttrs, [ATTR_DIRECTION]: 'sent' });
        c.bytes.add(stats.bytesReceived, { ...peerAttrs, [ATTR_DIRECTION]: 'received' });
      }
      span?.setAttributes({
        [ATTR_AE_DOCUMENTS]: stats.documents,
        [ATTR_AE_BYTES_SENT]: stats.bytesSent,
        [ATTR_AE_BYTES_RECEIVED]: stats.bytesReceived,
        [ATTR_AE_DIFFERING_BUCKETS]: stats.differingBuckets,
        [ATTR_AE_LEVELS_WALKED]: stats.levelsWalked,
        [ATTR_AE_DIRECTED]: stats.directed,
      });
      span?.end();
    },
    failed: (err) => {
      if (metricsEnabled()) counters().rounds.add(1, { ...peerAttrs, [ATTR_RESULT]: 'failed' });
      span?.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      span?.end();
    },
  };
}
