import { RoundStats } from '../../../services/node/AntiEntropy';
import { Prng } from '../prng';
import { checkConvergence } from './checkConvergence';
import { scheduleAntiEntropy } from './scheduleAntiEntropy';
import { partitionCuts, scheduleCrash } from './scheduleFaults';
import { SimCluster } from './SimCluster';
import { NetworkFaults, noNetworkFaults } from './SimNetwork';
import { Workload } from './Workload';

export interface DirectedHealOutcome {
  /** Reconnect rounds that pulled the named documents instead of comparing digests. */
  readonly directedRounds: number;
  readonly rounds: number;
  /** Documents that differ right after the reconnect rounds (empty when they converged). */
  readonly findings: string[];
}

const splitTicks = 150;

/**
 * A split after the cluster converged (so every link knows its owed list completely): two sides
 * cut from each other, lossy links within them, client writes on both sides, sometimes a crash
 * (that replica's lists are incomplete after its restart), and periodic digest rounds. Then the
 * heal: every link reconnects at once and runs its reconnect round (directed where both lists
 * are complete), and nothing else: the replicas must have converged right after those rounds,
 * with no periodic round to repair what a directed round missed.
 */
export async function splitAndHealDirected(
  cluster: SimCluster, prng: Prng, workload: Workload, network: NetworkFaults, callTimeoutTicks: number, eventsMax: number, log: (line: string) => void,
): Promise<DirectedHealOutcome> {
  const ids = cluster.ids;
  const cuts = partitionCuts('split', ids, prng);
  for (const [from, to] of cuts) cluster.network.cut(from, to);
  cluster.network.faults = network;
  log(`split: ${cuts.map(([f, t]) => `${f}>${t}`).join(' ')}`);
  const start = cluster.queue.now;
  const writes = 10 + prng.int(40);
  for (let i = 0; i < writes; i++) cluster.queue.schedule(prng.int(splitTicks), () => workload.issue());
  if (prng.chance(0.3)) scheduleCrash(cluster, prng, prng.pick(ids), prng.int(splitTicks), splitTicks, log);
  scheduleAntiEntropy(cluster, prng, start + splitTicks, 40, log);
  // Past the split, long enough for every push across the cut to time out (and be owed).
  await cluster.queue.runUntil(start + splitTicks + callTimeoutTicks, eventsMax);
  for (const id of ids) if (cluster.current(id) === undefined) cluster.restart(id);
  cluster.network.healAll();
  cluster.network.faults = noNetworkFaults;
  log('heal: every link reconnects');
  const results: (RoundStats | undefined)[] = [];
  for (const from of ids) {
    for (const to of ids) if (from !== to) void cluster.round(from, to, true).then((s) => results.push(s));
  }
  await cluster.queue.runWhile(() => true, eventsMax);
  const done = results.filter((s): s is RoundStats => s !== undefined);
  return {
    directedRounds: done.filter((s) => s.directed).length,
    rounds: done.length,
    findings: checkConvergence(cluster.running()),
  };
}
