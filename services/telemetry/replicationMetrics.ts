import { BatchObservableResult } from '@opentelemetry/api';
import { ATTR_PEER_NODE_ID, METRIC_REPLICATION_BACKLOG_BYTES, METRIC_REPLICATION_BACKLOG_UPDATES, METRIC_REPLICATION_DROPPED, METRIC_REPLICATION_LAG } from './names';
import { meter, metricsEnabled } from './tracing';

/** What the metrics read from one outbound replication link (PeerLink). */
export interface ObservedLink {
  readonly peerId: string;
  readonly backlog: { readonly updates: number; readonly bytes: number };
  /** Age of the oldest update the peer has not acknowledged yet; 0 when it holds everything. */
  readonly lagMs: number;
  readonly droppedUpdates: number;
}

/**
 * Per-peer replication gauges, read at scrape time (no work per update): backlog in updates and
 * bytes, lag in seconds, and updates dropped from an overflowing queue. Returns the unregister
 * function (a no-op when metrics are off).
 */
export function observeReplication(links: readonly ObservedLink[]): () => void {
  if (!metricsEnabled()) return () => undefined;
  const m = meter();
  const updates = m.createObservableGauge(METRIC_REPLICATION_BACKLOG_UPDATES, { description: 'Updates queued for a peer and not yet acknowledged', unit: '{update}' });
  const bytes = m.createObservableGauge(METRIC_REPLICATION_BACKLOG_BYTES, { description: 'Bytes queued for a peer and not yet acknowledged', unit: 'By' });
  const lag = m.createObservableGauge(METRIC_REPLICATION_LAG, { description: 'Age of the oldest update a peer has not acknowledged', unit: 's' });
  const dropped = m.createObservableCounter(METRIC_REPLICATION_DROPPED, { description: 'Updates dropped from an overflowing send queue (anti-entropy repairs them)', unit: '{update}' });
  const callback = (r: BatchObservableResult): void => {
    for (const l of links) {
      const attrs = { [ATTR_PEER_NODE_ID]: l.peerId };
      r.observe(updates, l.backlog.updates, attrs);
      r.observe(bytes, l.backlog.bytes, attrs);
      r.observe(lag, l.lagMs / 1000, attrs);
      r.observe(dropped, l.droppedUpdates, attrs);
    }
  };
  m.addBatchObservableCallback(callback, [updates, bytes, lag, dropped]);
  return () => m.removeBatchObservableCallback(callback, [updates, bytes, lag, dropped]);
}
