import { BenchContext } from '../BenchContext';
import { Variant } from '../Measurement';
import { paddedValue, runLoad } from '../runLoad';
import { Fixtures } from '../Fixtures';
import { concordKv, etcdKv, KvTarget } from './kvTargets';

const workloads = [
  { workload: 'put', clients: 1 },
  { workload: 'put', clients: 64 },
  { workload: 'cas', clients: 1 },
  { workload: 'cas', clients: 64 },
] as const;

export const authoritativeSteps = (ctx: BenchContext): number => workloads.length * 2 * ctx.options.rounds;

/**
 * Scenario 1: authoritative put and compare-and-set against a 3-voter Concord and a 3-member
 * etcd. Clients talk to the leader of each (a follower would forward, adding a hop to both).
 * Every client owns its key, so each CAS succeeds unless the store misbehaves; a failed CAS
 * counts as an error. Each workload first runs unmeasured on each system (Variant.warmUp): on
 * fresh node processes, sequential puts reached their steady CPU per put only after about
 * 3,000 of them, half way through the measured rounds.
 */
export async function authoritativeWrites(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const concord = await fx.concord();
  const concordTarget = concordKv(concord.kv[await concord.leader()] as (typeof concord.kv)[number]);
  const etcd = ctx.refs.etcd ? await fx.etcd() : undefined;
  const etcdTarget = etcd === undefined ? undefined : etcdKv(etcd.stubs[await etcd.leader()] as (typeof etcd.stubs)[number]);
  for (const { workload, clients } of workloads) {
    const clientCount = clients === 64 ? options.clients : clients;
    const variant = (target: KvTarget | undefined, system: string, pids: () => readonly number[]): Variant => {
      if (target === undefined) return { system, workload, clients: clientCount, skipped: 'etcd not available', run: async () => ({}) };
      const versions = new Map<number, number>();
      const key = (w: number): string => `bench/${workload}/x${clientCount}/w${w}`;
      const load = (durationMs: number, warmupMs: number, onError: (err: unknown) => void, minCalls = 0) => runLoad({
        clients: clientCount,
        durationMs,
        warmupMs,
        minCalls,
        onError,
        serverPids: pids,
        op: async (w, n) => {
          const value = paddedValue(`${w}:${n}:`, options.valueBytes);
          if (workload === 'put') return target.put(key(w), value);
          const expected = versions.get(w) ?? 0;
          const res = await target.cas(key(w), expected, value);
          versions.set(w, res.version);
          if (!res.ok) throw new Error(`CAS on ${key(w)} expected version ${expected}, found ${res.version}`);
        },
      });
      return {
        system,
        workload,
        clients: clientCount,
        run: () => load(options.roundMs, options.warmupMs, ctx.errorNote(`authoritative ${system} ${workload} x${clientCount}`)),
        warmUp: () => load(options.warmupRoundMs, 0, () => undefined, options.warmupRoundCalls),
      };
    };
    await ctx.alternate('authoritative', [
      variant(concordTarget, 'concord', () => concord.pids()),
      variant(etcdTarget, 'etcd', () => etcd?.members.map((m) => m.pid) ?? []),
    ]);
  }
}
