import { AckLevel } from '../../../proto/gen/concord/v1/documents';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { concordApply, concordStreamed, LaggedVariant, redisSet, sampled } from './convergentVariants';
import { echoVariant } from './echoCeiling';
import { watchConcordLag, watchRedisLag } from './lagObservers';

const redisConnections = 50;
const batchOps = 16;

export const convergentSteps = (ctx: BenchContext): number => (8 + 4) * ctx.options.rounds;

/** The LOCAL row that throughput targets read: the same writes with no lag observers running. */
export const unobservedLocal = 'apply LOCAL, lag not observed';

/**
 * Scenario 2: convergent typed writes at LOCAL, QUORUM and ALL from 64 clients spread over the
 * three masters, with replication lag, beside Redis (primary + 2 replicas, AOF fsync always)
 * asynchronous and with WAIT 1 / WAIT 2, and beside the grpc-js echo over three processes (the
 * ceiling LOCAL is judged against, alternated with it so drift of the machine cancels out).
 * Lag is observed through Watch streams read by this process, which also drives the load. They
 * once cost the LOCAL row 13-20% of its throughput (before each write called only its own
 * document's watches; in the full runs since, under 1%), and etcd's and the echo's rows have
 * no observers, so a LOCAL row without them gives the throughput the targets compare. Then the
 * comparison the target names: 50 clients, Concord plain, batched (16 map sets per Apply) and
 * streamed (the client helper's writer) against Redis with 50 connections.
 */
export async function convergentWrites(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const concord = await fx.concord();
  const redis = ctx.refs.redis ? await fx.redis() : undefined;
  const n = options.clients;
  const concordRows = [AckLevel.ACK_LEVEL_LOCAL, AckLevel.ACK_LEVEL_QUORUM, AckLevel.ACK_LEVEL_ALL].map((ack) => concordApply(ctx, concord.docs, ack, n));
  const redisRows = [0, 1, 2].map((wait) => redisSet(ctx, redis, n, wait, true));
  const echo = echoVariant(ctx, await fx.echo(), 3, n);
  const concordPids = (): number[] => concord.pids();
  // With the nodes' CPU per write, which the targets' CPU lines read (the observed rows share
  // the load generator with their Watch streams, so theirs would not compare).
  const plain = concordApply(ctx, concord.docs, AckLevel.ACK_LEVEL_LOCAL, n, 1, false, concordPids).variant;
  // It warms up for all the rows (one unmeasured round before the alternation): the first rounds
  // on fresh node processes ran at about two thirds of the later ones' rate (JIT, caches), and
  // the row that happened to go first paid it.
  const unobserved = { ...plain, workload: unobservedLocal, warmUp: () => plain.run() };
  const closers: (() => void)[] = [];
  try {
    for (const row of concordRows) {
      if (row.tracker !== undefined) closers.push(watchConcordLag(concord.docs, row.keyOf, sampled(n), row.tracker));
    }
    for (const row of redisRows) {
      if (row.tracker !== undefined && redis !== undefined) closers.push(await watchRedisLag(redis, row.keyOf, sampled(n), row.tracker, () => 0));
    }
    // Watches open with a catch-up event; give them a moment so no round starts half-observed.
    await new Promise((r) => setTimeout(r, 500));
    await ctx.alternate('convergent', [...[...concordRows, ...redisRows].map((r: LaggedVariant) => r.variant), unobserved, echo]);
  } finally {
    closers.forEach((close) => close());
  }
  await ctx.alternate('convergent-50', [
    concordApply(ctx, concord.docs, AckLevel.ACK_LEVEL_LOCAL, redisConnections, 1, false, concordPids).variant,
    concordApply(ctx, concord.docs, AckLevel.ACK_LEVEL_LOCAL, redisConnections, batchOps, false, concordPids).variant,
    concordStreamed(ctx, concord.cluster.nodes.map((nd) => nd.address), redisConnections, concordPids),
    redisSet(ctx, redis, redisConnections, 0, false, () => redis?.pids() ?? []).variant,
  ]);
}
