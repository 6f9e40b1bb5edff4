import { createHash } from 'node:crypto';
import { DocumentId } from '../../../services/core/crdt/documentId';
import { makePrng } from '../prng';
import { checkAckedOps } from './checkAckedOps';
import { checkConvergence } from './checkConvergence';
import { checkVersionTokens } from './checkVersionTokens';
import { EventQueue, LivenessError } from './EventQueue';
import { OpHistory } from './OpHistory';
import { quiesce } from './quiesce';
import { scheduleAntiEntropy } from './scheduleAntiEntropy';
import { scheduleCrash, scheduleFaults } from './scheduleFaults';
import { SimCluster } from './SimCluster';
import { noNetworkFaults } from './SimNetwork';
import { SimReplica } from './SimReplica';
import { Workload } from './Workload';
import { DirectedHealOutcome, splitAndHealDirected } from './splitAndHealDirected';

export interface SimOptions {
  readonly seed: number;
  /** Off for the negative test: only (lossy) pushes replicate. */
  readonly antiEntropy: boolean;
  /** On for the negative test: replicas acknowledge writes before they are durable. */
  readonly acksBeforeDurable: boolean;
  /** Override the seed's choices of message loss rate, crash count and fsync latency. */
  readonly lossRate?: number;
  readonly crashes?: number;
  readonly flushTicksMax?: number;
  /** After the run converged, a split healed by reconnect rounds alone (splitAndHealDirected). */
  readonly directedHeal?: boolean;
  readonly log?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly summary: string;
  readonly convergence: string[];
  readonly lostAcks: string[];
  readonly versions: string[];
  readonly unexpected: string[];
  readonly liveness: string[];
  /** Divergence right after the reconnect rounds of the directed heal. */
  readonly directedHeal: string[];
  readonly directedRounds: number;
  readonly writes: number;
  readonly acked: number;
  readonly events: number;
  readonly messages: number;
  /** A hash of the whole outcome: equal for two runs of one seed (the run is deterministic). */
  readonly fingerprint: string;
}

const safetyTicks = 400;
/** A run needs about a thousand events; far more means something keeps itself busy forever. */
const eventsMax = 200_000;
const antiEntropyEveryTicksMax = 40;
/**
 * Longer than any call can take on a healed network (two 12-tick hops plus an fsync of up to
 * 30 ticks per document pushed), so a timeout after the heal is a real liveness failure.
 */
const callTimeoutTicks = 200;

/**
 * One whole run from one seed: a safety phase with client writes, lossy and partitioned
 * network, slow disks and crashes, then the heal (network repaired, every replica restarted,
 * in-flight messages delivered), anti-entropy until quiet, and the checkers.
 */
export async function runSimulation(opts: SimOptions): Promise<SimResult> {
  const prng = makePrng(opts.seed);
  const queue = new EventQueue();
  const log = (line: string): void => opts.log?.(`t=${queue.now} ${line}`);
  const network = {
    lossRate: opts.lossRate ?? prng.pick([0, 0.05, 0.2, 0.4]),
    duplicateRate: prng.pick([0, 0.1, 0.3]),
    delayTicksMax: prng.pick([1, 4, 12]),
  };
  const replicaCount = 3 + prng.int(3);
  const cluster = new SimCluster(queue, prng, {
    replicaCount, network, callTimeoutTicks, compactUpdatesMax: 3 + prng.int(20), trackOwed: opts.directedHeal === true,
    disk: { flushTicksMax: opts.flushTicksMax ?? prng.pick([0, 3, 12, 30]), completionTicksMax: 2, acksBeforeDurable: opts.acksBeforeDurable },
  });
  const docIds = Array.from({ length: 1 + prng.int(3) }, (_, i) => `doc/${i}` as DocumentId);
  const history = new OpHistory();
  const faults = { safetyTicks, partitionEpisodes: prng.int(4), partitionTicksMax: 120, crashes: opts.crashes ?? prng.int(6), downTicksMax: 80 };
  // A node killed right after it answered a read while client writes were still in flight there
  // (a crash where it hurts): what a client read and builds on must survive.
  const crashAfterReadRate = prng.pick([0, 0.3, 0.7]);
  const onRead = (id: string, unackedWrites: number): void => {
    if (queue.now >= safetyTicks || unackedWrites === 0) return;
    if (prng.chance(crashAfterReadRate)) scheduleCrash(cluster, prng, id, 0, faults.downTicksMax, log);
  };
  const workload = new Workload(cluster, history, prng, { docIds, rawClientShare: 0.3, readAfterWriteRate: 0.2, rawClientDelayTicksMax: 20, onRead, log });
  const opCount = 20 + prng.int(50);
  const summary = `seed=${opts.seed} replicas=${replicaCount} docs=${docIds.length} writes=${opCount} ` +
    `loss=${network.lossRate} dup=${network.duplicateRate} delay<=${network.delayTicksMax} ` +
    `partitions=${faults.partitionEpisodes} crashes=${faults.crashes} crashAfterRead=${crashAfterReadRate} antiEntropy=${opts.antiEntropy} acksBeforeDurable=${opts.acksBeforeDurable}`;
  opts.log?.(summary);

  for (let i = 0; i < opCount; i++) queue.schedule(prng.int(safetyTicks), () => workload.issue());
  scheduleFaults(cluster, prng, faults, log);
  if (opts.antiEntropy) scheduleAntiEntropy(cluster, prng, safetyTicks, antiEntropyEveryTicksMax, log);

  const liveness: string[] = [];
  let directed: DirectedHealOutcome = { directedRounds: 0, rounds: 0, findings: [] };
  try {
    await queue.runUntil(safetyTicks, eventsMax);
    log('heal: network repaired, every replica restarted');
    cluster.network.healAll();
    cluster.network.faults = noNetworkFaults;
    for (const id of cluster.ids) cluster.restart(id);
    await queue.runWhile(() => true, eventsMax);
    if (opts.antiEntropy) liveness.push(...(await quiesce(cluster, eventsMax, log)));
    if (opts.directedHeal === true && liveness.length === 0) {
      directed = await splitAndHealDirected(cluster, prng, workload, network, callTimeoutTicks, eventsMax, log);
      log(`directed heal: ${directed.directedRounds} of ${directed.rounds} reconnect rounds directed, ${directed.findings.length} documents differ`);
      liveness.push(...(await quiesce(cluster, eventsMax, log)));
    }
  } catch (err) {
    if (!(err instanceof LivenessError)) throw err;
    liveness.push(err.message);
  }

  const replicas = cluster.running();
  const first = replicas[0];
  return {
    seed: opts.seed,
    summary,
    convergence: checkConvergence(replicas),
    lostAcks: first === undefined ? [] : checkAckedOps(history, (id) => first.store.json(id as DocumentId)),
    versions: first === undefined ? [] : checkVersionTokens(history, (id) => first.store.peek(id as DocumentId)),
    unexpected: cluster.unexpected,
    liveness,
    directedHeal: directed.findings,
    directedRounds: directed.directedRounds,
    writes: history.writes.length,
    acked: history.ackedCount,
    events: queue.executed,
    messages: cluster.network.stats.sent,
    fingerprint: fingerprint(replicas, history, queue.executed),
  };
}

function fingerprint(replicas: readonly SimReplica[], history: OpHistory, events: number): string {
  const docs = replicas.map((r) => [...r.store.ids()].sort().map((id) => r.store.json(id as DocumentId)));
  const acks = history.writes.map((w) => (w.acked ? 'a' : '-')).join('');
  return createHash('sha256').update(JSON.stringify({ docs, acks, events })).digest('hex');
}
