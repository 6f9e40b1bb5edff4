import { RoundStats } from '../../../services/node/AntiEntropy';
import { SimCluster } from './SimCluster';

/**
 * Passes over every ordered pair of replicas; a pass is quiet when no round found a differing
 * document. With the network healed, one pass should make every pair equal and the next one
 * confirm it; more than this many passes is a liveness failure.
 */
export const quiescePassesMax = 4;

/** Runs anti-entropy until a quiet pass; returns liveness findings (empty when it got quiet). */
export async function quiesce(cluster: SimCluster, eventsMax: number, log: (line: string) => void): Promise<string[]> {
  for (let pass = 1; pass <= quiescePassesMax; pass++) {
    let differing = 0;
    for (const from of cluster.ids) {
      for (const to of cluster.ids) {
        if (from === to) continue;
        const stats = await runRound(cluster, from, to, eventsMax);
        if (stats === undefined) return [`anti-entropy round ${from}->${to} did not complete on a healed network`];
        differing += stats.documents;
      }
    }
    log(`quiesce pass ${pass}: ${differing} differing documents`);
    if (differing === 0) return [];
  }
  return [`still differing after ${quiescePassesMax} anti-entropy passes`];
}

/** Starts one round and runs the simulation until it settles (or nothing is left to run). */
async function runRound(cluster: SimCluster, from: string, to: string, eventsMax: number): Promise<RoundStats | undefined> {
  let done = false;
  let result: RoundStats | undefined;
  void cluster.round(from, to).then((s) => {
    done = true;
    result = s;
  });
  await cluster.queue.runWhile(() => !done, eventsMax);
  return result;
}
