import { AckLevel, Operation } from '../../../proto/gen/concord/v1/documents';
import { ConcordClient } from '../../../clients/client/ConcordClient';
import { DocumentWriter } from '../../../clients/client/DocumentWriter';
import { ops } from '../../../clients/client/ops';
import { NodeStubs } from '../../integration/nodeStubs';
import { BenchContext } from '../BenchContext';
import { Variant } from '../Measurement';
import { RedisGroup } from '../references/RedisGroup';
import { paddedValue, runLoad } from '../runLoad';
import { LagTracker } from './LagTracker';
import { lagKey, lagMap } from './lagObservers';

export interface LaggedVariant {
  readonly variant: Variant;
  readonly tracker?: LagTracker;
  /** Where sampled writer `w` writes (document id or Redis key). */
  readonly keyOf: (w: number) => string;
}

/** Writers whose writes are traced for lag (every 8th: enough samples, little observer load). */
export const sampled = (clients: number): number[] => Array.from({ length: clients }, (_, w) => w).filter((w) => w % 8 === 0);

const levelName: Record<number, string> = { [AckLevel.ACK_LEVEL_LOCAL]: 'LOCAL', [AckLevel.ACK_LEVEL_QUORUM]: 'QUORUM', [AckLevel.ACK_LEVEL_ALL]: 'ALL' };

/**
 * Typed writes (map set of a value of `valueBytes`) at one ack level, clients spread over the
 * masters (writer w always uses node w mod n). With `opsPerCall` > 1 one Apply carries that
 * many map sets (one transaction): the batching the API offers today.
 */
export function concordApply(ctx: BenchContext, nodes: readonly NodeStubs[], ack: AckLevel, clients: number, opsPerCall = 1, trackLag = true, serverPids?: () => readonly number[]): LaggedVariant {
  const { options } = ctx;
  // Rows without lag observers write to documents of their own, so no watch sees their writes.
  const tag = `${levelName[ack]}${opsPerCall > 1 ? `-b${opsPerCall}` : ''}${trackLag ? '' : '-unobserved'}-x${clients}`;
  const keyOf = (w: number): string => `bench/conv/${tag}/w${w}`;
  const tracker = trackLag ? new LagTracker(nodes.length) : undefined;
  const seq = new Array<number>(clients).fill(0);
  const sample = new Set(sampled(clients));
  const run = (): Promise<Record<string, number>> => runLoad({
    clients,
    durationMs: options.roundMs,
    warmupMs: options.warmupMs,
    opsPerCall,
    serverPids,
    onError: ctx.errorNote(`convergent concord ${tag}`),
    op: async (w) => {
      const s = (seq[w] ?? 0) + 1;
      seq[w] = s;
      const operations: Operation[] = [];
      for (let i = 0; i < opsPerCall; i++) {
        const key = i === 0 ? lagKey : `k${i}`;
        operations.push({ op: { $case: 'mapSet', value: { path: [lagMap, key], valueJson: JSON.stringify(paddedValue(`${s}|`, options.valueBytes)) } } });
      }
      await (nodes[w % nodes.length] as NodeStubs).apply({ documentId: keyOf(w), operations, ack }, 10_000);
    },
    onDone: (w, _n, at) => {
      if (sample.has(w)) tracker?.acked(w, seq[w] as number, at, w % nodes.length);
    },
  });
  return {
    keyOf,
    tracker,
    variant: {
      system: 'concord',
      workload: `apply ${levelName[ack]}${opsPerCall > 1 ? `, ${opsPerCall} ops/call (ops/s)` : ''}`,
      clients,
      run: async () => {
        const res = await run();
        if (tracker === undefined) return res;
        await tracker.settle(10_000);
        return { ...res, ...tracker.takeSummary() };
      },
    },
  };
}

/**
 * The client helper's streamed write path: the same typed write as `concordApply` at LOCAL,
 * through `ConcordClient.writer()` (one ApplyBatches stream per node, writer w on node w mod n, every
 * client's writes in flight on its node's shared stream).
 */
export function concordStreamed(ctx: BenchContext, addresses: readonly string[], clients: number, serverPids?: () => readonly number[]): Variant {
  const { options } = ctx;
  const keyOf = (w: number): string => `bench/conv/LOCAL-stream-x${clients}/w${w}`;
  const seq = new Array<number>(clients).fill(0);
  return {
    system: 'concord',
    workload: 'apply LOCAL, streamed (client writer)',
    clients,
    run: async () => {
      const pools = addresses.map((address) => new ConcordClient({ endpoints: [address] }));
      const writers = pools.map((c) => c.writer());
      try {
        return await runLoad({
          clients,
          durationMs: options.roundMs,
          warmupMs: options.warmupMs,
          onError: ctx.errorNote(`convergent concord streamed x${clients}`),
          serverPids,
          op: async (w) => {
            const s = (seq[w] ?? 0) + 1;
            seq[w] = s;
            await (writers[w % writers.length] as DocumentWriter).apply(keyOf(w), [ops.set([lagMap, lagKey], paddedValue(`${s}|`, options.valueBytes))], { deadlineMs: 10_000 });
          },
        });
      } finally {
        await Promise.all(writers.map((wr) => wr.close()));
        pools.forEach((c) => c.close());
      }
    },
  };
}

/** SET of a value of `valueBytes` on the primary, one connection per client; `wait` > 0 adds WAIT. */
export function redisSet(ctx: BenchContext, redis: RedisGroup | undefined, clients: number, wait: number, trackLag: boolean, serverPids?: () => readonly number[]): LaggedVariant {
  const { options } = ctx;
  const tag = `${wait === 0 ? 'async' : `wait${wait}`}-x${clients}`;
  const keyOf = (w: number): string => `bench:conv:${tag}:w${w}`;
  const workload = wait === 0 ? 'SET (async replication)' : `SET + WAIT ${wait}`;
  if (redis === undefined) return { keyOf, variant: { system: 'redis', workload, clients, skipped: 'redis not available', run: async () => ({}) } };
  const tracker = trackLag ? new LagTracker(3) : undefined;
  const conns = Array.from({ length: clients }, () => redis.connect(0));
  const seq = new Array<number>(clients).fill(0);
  const sample = new Set(sampled(clients));
  const run = (): Promise<Record<string, number>> => runLoad({
    clients,
    durationMs: options.roundMs,
    warmupMs: options.warmupMs,
    onError: ctx.errorNote(`convergent redis ${tag}`),
    serverPids,
    op: async (w) => {
      const s = (seq[w] ?? 0) + 1;
      seq[w] = s;
      const conn = conns[w] as (typeof conns)[number];
      const value = paddedValue(`${s}|`, options.valueBytes);
      if (wait === 0) {
        await conn.set(keyOf(w), value);
        return;
      }
      const res = await conn.pipeline().set(keyOf(w), value).wait(wait, 10_000).exec();
      const acked = res?.[1]?.[1];
      if (typeof acked !== 'number' || acked < wait) throw new Error(`WAIT ${wait} answered ${String(acked)}`);
    },
    onDone: (w, _n, at) => {
      if (sample.has(w)) tracker?.acked(w, seq[w] as number, at, 0);
    },
  });
  return {
    keyOf,
    tracker,
    variant: {
      system: 'redis',
      workload,
      clients,
      note: 'AOF appendfsync always on all three; WAIT counts replicas that received the write (not fsynced: WAITAOF needs Redis 7.2)',
      run: async () => {
        const res = await run();
        if (tracker === undefined) return res;
        await tracker.settle(10_000);
        return { ...res, ...tracker.takeSummary() };
      },
    },
  };
}
