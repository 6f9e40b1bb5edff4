import { Prng } from '../prng';
import { SimCluster } from './SimCluster';

export interface FaultOptions {
  /** Faults start before this tick; the heal phase comes after it. */
  readonly safetyTicks: number;
  readonly partitionEpisodes: number;
  readonly partitionTicksMax: number;
  readonly crashes: number;
  readonly downTicksMax: number;
}

export type PartitionKind = 'isolate' | 'split' | 'bridge' | 'one-way';

/**
 * Schedules the run's partitions (one after another, each healed before the next) and crashes
 * (each followed by a restart), all drawn from the seed. `log` receives one line per fault.
 */
export function scheduleFaults(cluster: SimCluster, prng: Prng, opts: FaultOptions, log: (line: string) => void): void {
  let at = 0;
  for (let i = 0; i < opts.partitionEpisodes; i++) {
    at += prng.int(Math.max(1, Math.floor(opts.safetyTicks / opts.partitionEpisodes)));
    const duration = 1 + prng.int(opts.partitionTicksMax);
    if (at >= opts.safetyTicks) break;
    const kind = prng.pick<PartitionKind>(['isolate', 'split', 'bridge', 'one-way']);
    const cuts = partitionCuts(kind, cluster.ids, prng);
    cluster.queue.schedule(at, () => {
      for (const [from, to] of cuts) cluster.network.cut(from, to);
      log(`partition ${kind}: ${cuts.map(([f, t]) => `${f}>${t}`).join(' ')}`);
    });
    cluster.queue.schedule(at + duration, () => {
      cluster.network.healAll();
      log(`partition ${kind} healed`);
    });
    at += duration;
  }
  for (let i = 0; i < opts.crashes; i++) {
    scheduleCrash(cluster, prng, prng.pick(cluster.ids), prng.int(opts.safetyTicks), opts.downTicksMax, log);
  }
}

/** Crashes `id` in `inTicks` ticks (if it is up then) and restarts it 1..downTicksMax ticks later. */
export function scheduleCrash(cluster: SimCluster, prng: Prng, id: string, inTicks: number, downTicksMax: number, log: (line: string) => void): void {
  cluster.queue.schedule(inTicks, () => {
    if (cluster.current(id) === undefined) return;
    cluster.crash(id);
    log(`crash ${id}`);
    cluster.queue.schedule(1 + prng.int(downTicksMax), () => {
      if (cluster.current(id) !== undefined) return;
      cluster.restart(id);
      log(`restart ${id} as incarnation ${cluster.replica(id).endpoint.incarnation}`);
    });
  });
}

/** The directed links a partition of `kind` cuts. */
export function partitionCuts(kind: PartitionKind, ids: readonly string[], prng: Prng): [string, string][] {
  const shuffled = ids.map((id) => ({ id, key: prng.next() })).sort((a, b) => a.key - b.key).map((x) => x.id);
  const both = (a: readonly string[], b: readonly string[]): [string, string][] =>
    a.flatMap((x) => b.flatMap((y): [string, string][] => [[x, y], [y, x]]));
  switch (kind) {
    case 'isolate':
      return both(shuffled.slice(0, 1), shuffled.slice(1));
    case 'split': {
      const k = 1 + prng.int(shuffled.length - 1);
      return both(shuffled.slice(0, k), shuffled.slice(k));
    }
    case 'bridge': {
      // The first node reaches everyone; the others split into two sides that only it joins.
      const rest = shuffled.slice(1);
      const k = 1 + prng.int(rest.length - 1);
      return both(rest.slice(0, k), rest.slice(k));
    }
    case 'one-way': {
      // One node's messages to some others are lost while theirs still reach it.
      const from = shuffled[0] as string;
      const tos = shuffled.slice(1).filter((_, i) => i === 0 || prng.chance(0.5));
      return tos.map((to): [string, string] => [from, to]);
    }
  }
}
