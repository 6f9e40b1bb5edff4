import { performance } from 'node:perf_hooks';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { forEachLimit } from '../../../clients/client/forEachLimit';
import { paddedValue, runLoad } from '../runLoad';
import { medianMetrics } from '../stats';
import { concordKv, etcdKv, KvTarget } from './kvTargets';

/** Puts per load transaction (etcd's default limit of operations per transaction). */
const putsPerTxn = 128;
const loadTxnsInFlight = 8;
const writers = 32;

export const kvScaleSteps = (): number => 2;

interface Store {
  readonly target: KvTarget;
  readonly pids: () => readonly number[];
  /** The Raft term every member reports, joined: a change means an election. */
  readonly terms: () => Promise<string>;
  readonly leaderRssBytes: () => Promise<number>;
}

/**
 * Scenario 6: an authoritative store holding many keys (a large state machine and snapshot):
 * `kvScaleKeys` keys of `valueBytes` loaded in transactions of 128 puts, then `writers`
 * clients putting for two rounds' time while the stores snapshot and compact as they do.
 * Reports the load rate, the writers' rate, p99 and slowest put, elections (term changes
 * during load and writes) and the leader's RSS, for a 3-voter Concord and a 3-member etcd.
 */
export async function kvScale(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const concord = await fx.concord();
  const stores: [string, Store | undefined][] = [['concord', {
    target: concordKv(concord.kv[await concord.leader()] as (typeof concord.kv)[number]),
    pids: () => concord.pids(),
    terms: async () => (await Promise.all(concord.docs.map((s) => s.status()))).map((s) => String(s.authority?.term ?? 0n)).join(','),
    leaderRssBytes: async () => concord.rssBytes(await concord.leader()),
  }]];
  if (ctx.refs.etcd) {
    const etcd = await fx.etcd();
    stores.push(['etcd', {
      target: etcdKv(etcd.stubs[await etcd.leader()] as (typeof etcd.stubs)[number]),
      pids: () => etcd.members.map((m) => m.pid),
      terms: async () => (await Promise.all(etcd.stubs.map((s) => s.status({})))).map((s) => s.header.raftTerm).join(','),
      leaderRssBytes: async () => etcd.rssBytes(await etcd.leader()),
    }]);
  } else stores.push(['etcd', undefined]);
  const keys = options.kvScaleKeys;
  for (const [system, store] of stores) {
    ctx.progress.step(`kvscale: ${system}, ${keys} keys`);
    const workload = `${keys} keys, then puts`;
    if (store === undefined) {
      ctx.add({ scenario: 'kvscale', system, workload, clients: writers, rounds: [], median: {}, skipped: 'etcd not available' });
      continue;
    }
    const value = paddedValue('scale:', options.valueBytes);
    const termsBefore = await store.terms();
    const t0 = performance.now();
    const txns = Math.ceil(keys / putsPerTxn);
    await forEachLimit(txns, loadTxnsInFlight, async (b) => {
      if (b % 100 === 0) ctx.progress.status(`kvscale: ${system}: loading transaction ${b} of ${txns}`);
      const batch = Array.from({ length: Math.min(putsPerTxn, keys - b * putsPerTxn) }, (_, i) => `bench/kvscale/${b}/${i}`);
      await store.target.putAll(batch, value);
    });
    const loadMs = performance.now() - t0;
    const termsAfterLoad = await store.terms();
    ctx.progress.status(`kvscale: ${system}: ${writers} writers`);
    const load = await runLoad({
      clients: writers,
      durationMs: 2 * options.roundMs,
      warmupMs: options.warmupMs,
      onError: ctx.errorNote(`kvscale ${system}`),
      serverPids: store.pids,
      op: async (w, n) => store.target.put(`bench/kvscale/w${w}/${n % 100}`, value),
    });
    const termsAfterWrites = await store.terms();
    const row = {
      keys,
      loadSeconds: loadMs / 1000,
      loadKeysPerSec: (keys * 1000) / loadMs,
      opsPerSec: load.opsPerSec,
      p50Ms: load.p50Ms,
      p99Ms: load.p99Ms,
      maxMs: load.maxMs,
      errors: load.errors,
      electionsDuringLoad: termChanges(termsBefore, termsAfterLoad),
      electionsDuringWrites: termChanges(termsAfterLoad, termsAfterWrites),
      leaderRssMiB: (await store.leaderRssBytes()) / 2 ** 20,
      windowFromMs: load.windowFromMs,
      windowToMs: load.windowToMs,
    };
    ctx.add({ scenario: 'kvscale', system, workload, clients: writers, rounds: [row], median: medianMetrics([row]) });
  }
}

/** How far the highest term moved between two readings of every member's term. */
function termChanges(before: string, after: string): number {
  const top = (s: string): number => Math.max(...s.split(',').map(Number));
  return top(after) - top(before);
}
