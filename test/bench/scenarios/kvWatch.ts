import { performance } from 'node:perf_hooks';
import { KvWatchResponse } from '../../../proto/gen/concord/v1/kv';
import { prefixRangeEnd } from '../../../services/core/kv/prefixRangeEnd';
import { eventually } from '../../integration/nodeStubs';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { forEachLimit } from '../forEachLimit';
import { Variant } from '../Measurement';
import { EtcdWatchResponse } from '../references/etcdStubs';
import { paddedValue, runLoad } from '../runLoad';
import { percentile } from '../stats';
import { concordKv, etcdKv, KvTarget } from './kvTargets';

const writers = 32;

export const kvWatchSteps = (ctx: BenchContext): number => 2 * ctx.options.rounds;

const prefixOf = (i: number): string => `bench/kvwatch/p${i}/`;

/** The watches of one system as this process sees them: events counted, put-to-event lag kept. */
class WatchTally {
  received = 0;
  acked = 0;
  lags: number[] = [];
  readonly sentinels = new Set<number>();
  /** Called with each event's value: a put's value starts with its send time (`<ms>|`), a sentinel's with `s<watch>|`. */
  event(value: Uint8Array): void {
    this.received++;
    const head = Buffer.from(value.buffer, value.byteOffset, Math.min(24, value.byteLength)).toString('latin1');
    const bar = head.indexOf('|');
    if (head.startsWith('s')) this.sentinels.add(Number(head.slice(1, bar)));
    else this.lags.push(performance.now() - Number(head.slice(0, bar)));
  }
}

interface WatchedSystem {
  readonly tally: WatchTally;
  readonly target: KvTarget;
  readonly pids: () => readonly number[];
  close(): void;
}

/**
 * Scenario 7: puts while many prefix watches are open, as controllers watching one prefix per
 * tenant or object kind keep them. `kvWatches` watches, each on its own prefix, spread over the
 * three members, on a 3-voter Concord and a 3-member etcd; `writers` clients put to the leader,
 * each put landing in exactly one watch. Reports puts/s, p50/p99, and the watch lag (put sent
 * to its event received, both in this process) p50/p99; every event must arrive (`missing`).
 * Concord opens one Watch call per watch (its API); etcd carries a member's watches on one
 * Watch stream (its idiom). Before the rounds, one sentinel put per prefix proves every watch
 * is in place.
 */
export async function kvWatch(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const count = options.kvWatches;
  const concord = await fx.concord();
  const etcd = ctx.refs.etcd ? await fx.etcd() : undefined;
  const systems: [string, WatchedSystem | undefined][] = [];
  try {
    ctx.progress.status(`kvwatch: opening ${count} watches on concord`);
    systems.push(['concord', await concordWatches(ctx, concord, count)]);
    if (etcd !== undefined) ctx.progress.status(`kvwatch: opening ${count} watches on etcd`);
    systems.push(['etcd', etcd === undefined ? undefined : await etcdWatches(ctx, etcd, count)]);
    const workload = `${count} prefix watches, puts`;
    const variants = systems.map(([system, s]): Variant => {
      if (s === undefined) return { system, workload, clients: writers, skipped: 'etcd not available', run: async () => ({}) };
      return {
        system,
        workload,
        clients: writers,
        run: async () => {
          const { tally } = s;
          tally.lags = [];
          const load = await runLoad({
            clients: writers,
            durationMs: options.roundMs,
            warmupMs: options.warmupMs,
            onError: ctx.errorNote(`kvwatch ${system}`),
            serverPids: s.pids,
            op: async (w, n) => {
              await s.target.put(`${prefixOf((w * 7919 + n) % count)}k`, paddedValue(`${performance.now()}|`, options.valueBytes));
              tally.acked++;
            },
          });
          // Every acknowledged put (and each prefix's sentinel) must come out of a watch.
          const want = (): number => tally.acked + count;
          const drained = await eventually('watch events', async () => tally.received >= want(), 30_000).then(() => true, () => false);
          return {
            opsPerSec: load.opsPerSec,
            p50Ms: load.p50Ms,
            p99Ms: load.p99Ms,
            lagP50Ms: percentile(tally.lags, 50),
            lagP99Ms: percentile(tally.lags, 99),
            missing: drained ? 0 : want() - tally.received,
            errors: load.errors,
            serverCpuMsPerCall: load.serverCpuMsPerCall,
          };
        },
      };
    });
    await ctx.alternate('kvwatch', variants);
  } finally {
    for (const [, s] of systems) s?.close();
  }
}

async function concordWatches(ctx: BenchContext, c: Awaited<ReturnType<Fixtures['concord']>>, count: number): Promise<WatchedSystem> {
  const tally = new WatchTally();
  const leader = c.kv[await c.leader()] as (typeof c.kv)[number];
  const from = BigInt((await leader.get('bench/kvwatch/')).header?.revision ?? 0n) + 1n;
  const calls = Array.from({ length: count }, (_, i) => {
    const stub = c.kv[i % c.kv.length] as (typeof c.kv)[number];
    const call = stub.client.watch({ key: prefixOf(i), rangeEnd: prefixRangeEnd(prefixOf(i)), startRevision: from, prevKv: false });
    call.on('data', (res: KvWatchResponse) => res.events.forEach((e) => tally.event(e.kv?.value ?? new Uint8Array())));
    call.on('error', () => undefined); // cancelled at the end
    return call;
  });
  const target = concordKv(leader);
  await sentinels(ctx, 'concord', target, tally, count);
  return { tally, target, pids: () => c.cluster.nodes.map((n) => n.pid), close: () => calls.forEach((call) => call.cancel()) };
}

async function etcdWatches(ctx: BenchContext, e: Awaited<ReturnType<Fixtures['etcd']>>, count: number): Promise<WatchedSystem> {
  const tally = new WatchTally();
  const leader = e.stubs[await e.leader()] as (typeof e.stubs)[number];
  const from = Number((await leader.range({ key: Buffer.from('bench/kvwatch/') })).header.revision) + 1;
  const streams = e.stubs.map((s) => {
    const stream = s.watch();
    stream.on('data', (res: EtcdWatchResponse) => {
      if (res.canceled) ctx.note(`kvwatch etcd: a watch was cancelled: ${res.cancelReason}`);
      res.events.forEach((ev) => tally.event(ev.kv.value));
    });
    stream.on('error', () => undefined);
    return stream;
  });
  for (let i = 0; i < count; i++) {
    const key = prefixOf(i);
    streams[i % streams.length]?.write({ createRequest: { key: Buffer.from(key), rangeEnd: Buffer.from(prefixRangeEnd(key)), startRevision: from } });
  }
  const target = etcdKv(leader);
  await sentinels(ctx, 'etcd', target, tally, count);
  return { tally, target, pids: () => e.members.map((m) => m.pid), close: () => streams.forEach((s) => s.cancel()) };
}

/** One put per prefix (its value names the watch); resolves once every watch has seen its own. */
async function sentinels(ctx: BenchContext, system: string, target: KvTarget, tally: WatchTally, count: number): Promise<void> {
  await forEachLimit(count, writers, (i) => target.put(`${prefixOf(i)}s`, `s${i}|`));
  await eventually(`${system}: every watch to see its sentinel`, async () => tally.sentinels.size >= count, 60_000);
  ctx.progress.status(`kvwatch: ${count} watches in place on ${system}`);
}
