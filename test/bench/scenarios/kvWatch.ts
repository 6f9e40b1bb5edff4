import { status } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { KvWatchStreamResponse } from '../../../proto/gen/concord/v1/kv';
import { prefixRangeEnd } from '../../../services/core/kv/prefixRangeEnd';
import { eventually } from '../../integration/nodeStubs';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { forEachLimit } from '../../../clients/client/forEachLimit';
import { Variant } from '../Measurement';
import { EtcdWatchResponse } from '../references/etcdStubs';
import { paddedValue, runLoad } from '../runLoad';
import { percentile } from '../stats';
import { concordKv, etcdKv, KvTarget } from './kvTargets';

const writers = 32;

export const kvWatchSteps = (ctx: BenchContext): number => 2 * ctx.options.rounds;

const prefixOf = (i: number): string => `bench/kvwatch/p${i}/`;

/**
 * The watches of one system as this process sees them. A put's value starts with
 * `<send time>|<put id>|`, a sentinel's with `s<watch>|`: every acknowledged put must come out of
 * a watch exactly once (a lost event counts as missing, a repeated one as duplicate, whatever
 * else arrives), and the lag of puts sent from `countFrom` on is kept.
 */
class WatchTally {
  readonly acked = new Set<string>();
  readonly seen = new Set<string>();
  readonly sentinels = new Set<number>();
  duplicates = 0;
  lags: number[] = [];
  countFrom = Infinity;
  event(value: Uint8Array): void {
    const [head = '', id = ''] = Buffer.from(value.buffer, value.byteOffset, Math.min(48, value.byteLength)).toString('latin1').split('|');
    if (head.startsWith('s')) {
      if (this.sentinels.has(Number(head.slice(1)))) this.duplicates++;
      this.sentinels.add(Number(head.slice(1)));
      return;
    }
    if (this.seen.has(id)) this.duplicates++;
    this.seen.add(id);
    const sentAt = Number(head);
    if (sentAt >= this.countFrom) this.lags.push(performance.now() - sentAt);
  }

  missing(): number {
    let n = 0;
    for (const id of this.acked) if (!this.seen.has(id)) n++;
    return n;
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
 * to its event received, both in this process) p50/p99; every put's event must arrive once.
 * Both carry a member's watches on one stream: Concord's WatchStream, etcd's Watch. Before the
 * rounds, one sentinel put per prefix proves every watch is in place.
 */
export async function kvWatch(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const count = options.kvWatches;
  const concord = await fx.concord();
  const etcd = ctx.refs.etcd ? await fx.etcd() : undefined;
  const systems: [string, WatchedSystem | undefined, string?][] = [];
  try {
    // Each set of watches is registered (to be closed) before its sentinels are awaited.
    const open = async (system: string, watched: () => Promise<WatchedSystem>): Promise<void> => {
      ctx.progress.status(`kvwatch: opening ${count} watches on ${system}`);
      const s = await watched();
      systems.push([system, s]);
      await sentinels(ctx, system, s.target, s.tally, count);
    };
    await open('concord', () => concordWatches(ctx, concord, count));
    if (etcd === undefined) systems.push(['etcd', undefined, 'etcd not available']);
    else {
      await open('etcd', () => etcdWatches(ctx, etcd, count)).catch((err: unknown) => {
        const why = `failed: ${(err as Error).message.split('\n')[0]}`;
        ctx.note(`kvwatch etcd: ${why}`);
        const i = systems.findIndex(([name]) => name === 'etcd');
        systems[i]?.[1]?.close();
        if (i >= 0) systems.splice(i, 1);
        systems.push(['etcd', undefined, why]);
      });
    }
    const workload = `${count} prefix watches, puts`;
    let round = 0;
    const variants = systems.map(([system, s, why]): Variant => {
      if (s === undefined) return { system, workload, clients: writers, skipped: why ?? 'not available', run: async () => ({}) };
      return {
        system,
        workload,
        clients: writers,
        run: async () => {
          const { tally } = s;
          const r = round++;
          tally.lags = [];
          tally.countFrom = performance.now() + options.warmupMs;
          const load = await runLoad({
            clients: writers,
            durationMs: options.roundMs,
            warmupMs: options.warmupMs,
            onError: ctx.errorNote(`kvwatch ${system}`),
            serverPids: s.pids,
            op: async (w, n) => {
              const id = `${r}.${w}.${n}`;
              await s.target.put(`${prefixOf((w * 7919 + n) % count)}k`, paddedValue(`${performance.now()}|${id}|`, options.valueBytes));
              tally.acked.add(id);
            },
          });
          tally.countFrom = Infinity;
          // Every acknowledged put must come out of its watch; wait for the last ones.
          await eventually('watch events', async () => tally.missing() === 0, 30_000).catch(() => undefined);
          return {
            opsPerSec: load.opsPerSec,
            p50Ms: load.p50Ms,
            p99Ms: load.p99Ms,
            lagP50Ms: percentile(tally.lags, 50),
            lagP99Ms: percentile(tally.lags, 99),
            missing: tally.missing(),
            duplicates: tally.duplicates,
            errors: load.errors,
            serverCpuMsPerCall: load.serverCpuMsPerCall,
            windowFromMs: load.windowFromMs,
            windowToMs: load.windowToMs,
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
  const noteError = ctx.errorNote('kvwatch concord: a watch failed');
  const leader = c.kv[await c.leader()] as (typeof c.kv)[number];
  const from = BigInt((await leader.get('bench/kvwatch/')).header?.revision ?? 0n) + 1n;
  // One WatchStream per member carrying its share of the watches, as etcd's client does.
  const streams = c.kv.map((stub) => {
    const stream = stub.client.watchStream();
    stream.on('data', (res: KvWatchStreamResponse) => {
      if (res.canceled) noteError(new Error(`watch ${res.watchId} cancelled: ${res.cancelReason}`));
      res.events.forEach((e) => tally.event(e.kv?.value ?? new Uint8Array()));
    });
    stream.on('error', unlessCancelled(noteError));
    return stream;
  });
  for (let i = 0; i < count; i++) {
    const watch = { key: prefixOf(i), rangeEnd: prefixRangeEnd(prefixOf(i)), startRevision: from, prevKv: false };
    streams[i % streams.length]?.write({ request: { $case: 'create', value: { watch, watchId: BigInt(i + 1) } } });
  }
  const target = concordKv(leader);
  return { tally, target, pids: () => c.pids(), close: () => streams.forEach((stream) => stream.cancel()) };
}

async function etcdWatches(ctx: BenchContext, e: Awaited<ReturnType<Fixtures['etcd']>>, count: number): Promise<WatchedSystem> {
  const tally = new WatchTally();
  const noteError = ctx.errorNote('kvwatch etcd: a watch failed');
  const leader = e.stubs[await e.leader()] as (typeof e.stubs)[number];
  const from = Number((await leader.range({ key: Buffer.from('bench/kvwatch/') })).header.revision) + 1;
  const streams = e.stubs.map((s) => {
    const stream = s.watch();
    stream.on('data', (res: EtcdWatchResponse) => {
      if (res.canceled) noteError(new Error(`watch ${res.watchId} cancelled: ${res.cancelReason}`));
      res.events.forEach((ev) => tally.event(ev.kv.value));
    });
    stream.on('error', unlessCancelled(noteError));
    return stream;
  });
  for (let i = 0; i < count; i++) {
    const key = prefixOf(i);
    streams[i % streams.length]?.write({ createRequest: { key: Buffer.from(key), rangeEnd: Buffer.from(prefixRangeEnd(key)), startRevision: from } });
  }
  const target = etcdKv(leader);
  return { tally, target, pids: () => e.members.map((m) => m.pid), close: () => streams.forEach((s) => s.cancel()) };
}

/** Notes a watch stream's failure, but not the CANCELLED that closing it at the end brings. */
function unlessCancelled(note: (err: unknown) => void): (err: Error & { code?: number }) => void {
  return (err) => {
    if (err.code !== status.CANCELLED) note(err);
  };
}

/** One put per prefix (its value names the watch); resolves once every watch has seen its own. */
async function sentinels(ctx: BenchContext, system: string, target: KvTarget, tally: WatchTally, count: number): Promise<void> {
  await forEachLimit(count, writers, (i) => target.put(`${prefixOf(i)}s`, `s${i}|`));
  await eventually(`${system}: every watch to see its sentinel`, async () => tally.sentinels.size >= count, 60_000);
  ctx.progress.status(`kvwatch: ${count} watches in place on ${system}`);
}
