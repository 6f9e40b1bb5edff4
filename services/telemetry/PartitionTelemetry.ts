import { BatchObservableResult, Counter, Histogram, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import type { Episode } from '../node/PartitionLedger';
import {
  ATTR_NODE_ID,
  ATTR_PARTITION_BYTES_EXCHANGED,
  ATTR_PARTITION_CAUSE,
  ATTR_PARTITION_CONVERGE_MS,
  ATTR_PARTITION_DOCUMENTS_DIVERGED,
  ATTR_PARTITION_DOCUMENTS_EXCHANGED,
  ATTR_PARTITION_DURATION_MS,
  ATTR_PARTITION_EPISODE_ID,
  ATTR_PARTITION_LOCAL_UPDATES,
  ATTR_PARTITION_REMOTE_UPDATES,
  ATTR_PEER_NODE_ID,
  ATTR_UPDATE_ORIGIN,
  EVENT_PARTITION_CONVERGED,
  EVENT_PARTITION_CUT,
  EVENT_PARTITION_HEALED,
  METRIC_PARTITION_CONVERGE_DURATION,
  METRIC_PARTITION_DIVERGENT_UPDATES,
  METRIC_PARTITION_EPISODES,
  METRIC_PARTITION_OPEN,
  secondsBuckets,
  SPAN_PARTITION_EPISODE,
} from './names';
import { meter, metricsEnabled, tracer, tracingEnabled } from './tracing';

/** What this reads of the partition ledger. */
export interface EpisodeSource {
  recent(limit: number): Episode[];
}

interface Seen {
  localUpdates: number;
  remoteUpdates: number;
  done: boolean;
}

const watchedEpisodesMax = 50;

/**
 * Partition episodes from the ledger as telemetry. Each episode becomes one span on this node,
 * `concord.partition.episode`, from the cut to the convergence, with events at the cut, the heal
 * and the convergence and the ledger's numbers as attributes; it is emitted when the episode
 * converges (a span is exported only once it ends). Metrics follow the ledger as it counts:
 * episodes started, episodes open, updates accepted on either side while diverged, and the time
 * from heal to convergence. `update()` is called where the ledger changes (failure detector
 * tick, anti-entropy round); it reads the few most recent episodes and does nothing else.
 */
export class PartitionTelemetry {
  private readonly seen = new Map<string, Seen>();
  private readonly episodes: Counter | undefined;
  private readonly divergent: Counter | undefined;
  private readonly convergeDuration: Histogram | undefined;
  private readonly unobserve: () => void = () => undefined;

  constructor(private readonly selfId: string, private readonly ledger: EpisodeSource) {
    // Episodes from before this start were reported by the previous incarnation.
    for (const ep of ledger.recent(watchedEpisodesMax)) {
      this.seen.set(ep.id, { localUpdates: ep.localUpdates, remoteUpdates: ep.remoteUpdates, done: ep.convergedAtMs !== 0 });
    }
    if (!metricsEnabled()) return;
    const m = meter();
    this.episodes = m.createCounter(METRIC_PARTITION_EPISODES, { description: 'Partition episodes started with a peer (injected cut or detected loss)' });
    this.divergent = m.createCounter(METRIC_PARTITION_DIVERGENT_UPDATES, {
      description: 'Updates accepted while partitioned from a peer (origin=local) or received from it after the heal until convergence (origin=remote)',
      unit: '{update}',
    });
    this.convergeDuration = m.createHistogram(METRIC_PARTITION_CONVERGE_DURATION, {
      description: 'From the heal of a partition to the end of the first anti-entropy round after it',
      unit: 's',
      advice: { explicitBucketBoundaries: [...secondsBuckets] },
    });
    const open = m.createObservableGauge(METRIC_PARTITION_OPEN, { description: '1 while a partition episode with the peer is open (not healed)' });
    const cb = (r: BatchObservableResult): void => {
      const latest = new Map<string, Episode>();
      for (const ep of this.ledger.recent(watchedEpisodesMax)) if (!latest.has(ep.peerId)) latest.set(ep.peerId, ep);
      for (const [peerId, ep] of latest) r.observe(open, ep.healedAtMs === 0 ? 1 : 0, { [ATTR_PEER_NODE_ID]: peerId });
    };
    m.addBatchObservableCallback(cb, [open]);
    this.unobserve = () => m.removeBatchObservableCallback(cb, [open]);
  }

  update(): void {
    if (!tracingEnabled() && !metricsEnabled()) return;
    const recent = this.ledger.recent(watchedEpisodesMax);
    for (const ep of recent) {
      let s = this.seen.get(ep.id);
      if (s === undefined) {
        s = { localUpdates: 0, remoteUpdates: 0, done: false };
        this.seen.set(ep.id, s);
        this.episodes?.add(1, { [ATTR_PEER_NODE_ID]: ep.peerId, [ATTR_PARTITION_CAUSE]: ep.cause });
      }
      if (s.done) continue;
      const peer = { [ATTR_PEER_NODE_ID]: ep.peerId };
      if (ep.localUpdates > s.localUpdates) this.divergent?.add(ep.localUpdates - s.localUpdates, { ...peer, [ATTR_UPDATE_ORIGIN]: 'local' });
      if (ep.remoteUpdates > s.remoteUpdates) this.divergent?.add(ep.remoteUpdates - s.remoteUpdates, { ...peer, [ATTR_UPDATE_ORIGIN]: 'remote' });
      s.localUpdates = ep.localUpdates;
      s.remoteUpdates = ep.remoteUpdates;
      if (ep.convergedAtMs === 0) continue;
      s.done = true;
      this.convergeDuration?.record(Math.max(0, ep.convergedAtMs - ep.healedAtMs) / 1000, peer);
      if (tracingEnabled()) this.emitSpan(ep);
    }
    if (this.seen.size > 4 * watchedEpisodesMax) {
      const keep = new Set(recent.map((e) => e.id));
      for (const id of this.seen.keys()) if (!keep.has(id)) this.seen.delete(id);
    }
  }

  close(): void {
    this.unobserve();
  }

  private emitSpan(ep: Episode): void {
    const span = tracer().startSpan(SPAN_PARTITION_EPISODE, {
      kind: SpanKind.INTERNAL,
      startTime: ep.startedAtMs,
      root: true,
      attributes: {
        [ATTR_NODE_ID]: this.selfId,
        [ATTR_PEER_NODE_ID]: ep.peerId,
        [ATTR_PARTITION_EPISODE_ID]: ep.id,
        [ATTR_PARTITION_CAUSE]: ep.cause,
        [ATTR_PARTITION_LOCAL_UPDATES]: ep.localUpdates,
        [ATTR_PARTITION_REMOTE_UPDATES]: ep.remoteUpdates,
        [ATTR_PARTITION_DOCUMENTS_DIVERGED]: ep.documents.size,
        [ATTR_PARTITION_DOCUMENTS_EXCHANGED]: ep.documentsExchanged,
        [ATTR_PARTITION_BYTES_EXCHANGED]: ep.bytesExchanged,
        [ATTR_PARTITION_DURATION_MS]: ep.healedAtMs - ep.startedAtMs,
        [ATTR_PARTITION_CONVERGE_MS]: ep.convergedAtMs - ep.healedAtMs,
      },
    }, ROOT_CONTEXT);
    span.addEvent(EVENT_PARTITION_CUT, { [ATTR_PEER_NODE_ID]: ep.peerId, [ATTR_PARTITION_CAUSE]: ep.cause }, ep.startedAtMs);
    span.addEvent(EVENT_PARTITION_HEALED, { [ATTR_PARTITION_LOCAL_UPDATES]: ep.localUpdates }, ep.healedAtMs);
    span.addEvent(EVENT_PARTITION_CONVERGED, {
      [ATTR_PARTITION_REMOTE_UPDATES]: ep.remoteUpdates,
      [ATTR_PARTITION_DOCUMENTS_EXCHANGED]: ep.documentsExchanged,
      [ATTR_PARTITION_BYTES_EXCHANGED]: ep.bytesExchanged,
    }, ep.convergedAtMs);
    span.end(ep.convergedAtMs);
  }
}
