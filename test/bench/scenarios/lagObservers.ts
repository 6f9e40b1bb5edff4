import { ClientReadableStream } from '@grpc/grpc-js';
import * as Y from 'yjs';
import { WatchEvent } from '../../../proto/gen/concord/v1/documents';
import { NodeStubs } from '../../integration/nodeStubs';
import { RedisGroup } from '../references/RedisGroup';
import { LagTracker } from './LagTracker';

/** The map key every convergent writer sets: `m.v` = "<seq>|<padding>". */
export const lagMap = 'm';
export const lagKey = 'v';

const seqOf = (value: unknown): number => (typeof value === 'string' ? Number.parseInt(value, 10) : Number.NaN);

/**
 * Watches each sampled writer's document on every node and mirrors it into a local Y.Doc, so
 * the sequence number in `m.v` tells which write that node has applied (Watch events follow
 * the node's durable changes, whichever peer they came from).
 */
export function watchConcordLag(nodes: readonly NodeStubs[], docOf: (worker: number) => string, workers: readonly number[], tracker: LagTracker): () => void {
  const streams: ClientReadableStream<WatchEvent>[] = [];
  nodes.forEach((stub, node) => {
    for (const worker of workers) {
      const mirror = new Y.Doc();
      const stream = stub.docs.watch({ documentId: docOf(worker), fromVersion: new Uint8Array(), includeJson: false });
      stream.on('data', (ev: WatchEvent) => {
        if (ev.update.length > 0) Y.applyUpdate(mirror, ev.update);
        const seq = seqOf(mirror.getMap(lagMap).get(lagKey));
        if (Number.isFinite(seq)) tracker.observe(node, worker, seq);
      });
      stream.on('error', () => undefined);
      streams.push(stream);
    }
  });
  return () => streams.forEach((s) => s.cancel());
}

/**
 * Subscribes to keyspace events on each replica. A writer's key changes only through its own
 * SETs, applied on a replica in the primary's order, so the k-th event is the k-th write.
 */
export async function watchRedisLag(redis: RedisGroup, keyOf: (worker: number) => string, workers: readonly number[], tracker: LagTracker, startSeq: (worker: number) => number): Promise<() => void> {
  const subs = await Promise.all([1, 2].map(async (node) => {
    const sub = redis.connect(node);
    const counts = new Map<string, { worker: number; n: number }>();
    for (const w of workers) counts.set(`__keyspace@0__:${keyOf(w)}`, { worker: w, n: startSeq(w) });
    sub.on('message', (channel: string) => {
      const c = counts.get(channel);
      if (c === undefined) return;
      c.n++;
      tracker.observe(node, c.worker, c.n);
    });
    await sub.subscribe(...counts.keys());
    return sub;
  }));
  return () => subs.forEach((s) => s.disconnect());
}
