import { Prng } from '../prng';
import { SimCluster } from './SimCluster';

/**
 * The node's periodic anti-entropy during the safety phase: each replica, every
 * 1..everyTicksMax ticks, starts a round with a random peer (a round already running with that
 * peer makes AntiEntropy skip it, as in the node). Rounds race with writes, pushes, crashes and
 * partitions; a round cut off by a fault fails at its timeout.
 */
export function scheduleAntiEntropy(cluster: SimCluster, prng: Prng, untilTicks: number, everyTicksMax: number, log: (line: string) => void): void {
  for (const id of cluster.ids) {
    const tick = (): void => {
      if (cluster.queue.now >= untilTicks) return;
      const to = prng.pick(cluster.ids.filter((x) => x !== id));
      void cluster.round(id, to).then((s) => log(`round ${id}->${to}: ${s === undefined ? 'failed' : `${s.documents} docs`}`));
      cluster.queue.schedule(1 + prng.int(everyTicksMax), tick);
    };
    cluster.queue.schedule(prng.int(everyTicksMax), tick);
  }
}
