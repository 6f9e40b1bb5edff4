import { performance } from 'node:perf_hooks';
import { AckLevel } from '../../../proto/gen/concord/v1/documents';
import { BenchContext } from '../BenchContext';
import { ConcordBenchCluster } from '../concord/ConcordBenchCluster';
import { Fixtures } from '../Fixtures';
import { forEachLimit } from '../../../clients/client/forEachLimit';
import { eventually } from '../../integration/nodeStubs';
import { medianMetrics } from '../stats';
import { healRound } from './healRound';
import { Divergence, YjsTwin } from './YjsTwin';

const sweepDivergence = 1_000;
const docsFor = (updates: number): number => Math.min(1_000, Math.max(10, Math.floor(updates / 10)));
// 100k per side takes minutes of writes: one round of it. The smaller ones get the median of at
// least five rounds (with --quick, of --rounds): one busy moment on the machine moves a heal of
// 1k per side (tens of milliseconds) by half, and one of 10k per side (130 to 200 ms) by up to
// double: in five of seven runs the first round of 10k read 172 to 203 ms, and an ad hoc run had
// two rounds of 288 and 312 ms among three of 133 to 140. A round of 10k per side costs about
// 6 s of writes, which the time budget counts for every round.
const roundsFor = (ctx: BenchContext, updates: number): number => (updates > 10_000 ? 1 : !ctx.options.quick ? Math.max(5, ctx.options.rounds) : ctx.options.rounds);
const divergence = (updates: number): Divergence => ({
  docs: docsFor(updates),
  updates,
  valueOf: (side, n) => `${side}-${n.toString(36).padStart(12, '0')}`,
});

export const healSteps = (ctx: BenchContext): number =>
  ctx.options.healBaseDocuments.length * roundsFor(ctx, sweepDivergence) + ctx.options.healDivergence.reduce((n, u) => n + roundsFor(ctx, u), 0);

/**
 * Scenario 3: heal after a split brain, on the shared 3-master cluster (it runs after the
 * scenarios that only write, and heals every link it cut). After one unmeasured warm-up heal,
 * first at a fixed
 * divergence (1k updates per side) while the total data grows (base documents written before
 * the split), then at growing divergence (1k, 10k, 100k updates per side), each beside the
 * same divergence merged in-process with Yjs.
 */
export async function healAfterSplit(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const cluster = await fx.concord();
  const budget = { deadline: performance.now() + ctx.options.healBudgetMs, writesPerSec: Number.NaN };
  let round = 0;
  let baseDocs = 0;
  const divergences = async (sizes: readonly number[]): Promise<void> => {
    for (const updates of sizes) {
      const workload = `diverge ${updates}/side`;
      const rounds = roundsFor(ctx, updates);
      if (overBudget(ctx, budget, 2 * updates * rounds, workload, rounds)) continue;
      await measure(ctx, cluster, `div${round++}`, divergence(updates), rounds, workload, budget);
    }
  };
  // One small heal first, not measured: the nodes' heal paths (and the in-process merge) run
  // JIT-compiled code in every measured round, as the writes of the other scenarios do after
  // their warm-up.
  ctx.progress.status('heal: warm-up round');
  const warm = divergence(Math.min(1_000, ...ctx.options.healDivergence));
  const warmTwin = new YjsTwin(warm);
  await healRound(cluster, 'bench/heal/warmup', warm, warmTwin, (l) => ctx.note(`heal warm-up: ${l}`)).catch((err: unknown) => {
    ctx.note(`heal warm-up failed: ${(err as Error).message.split('\n')[0]}`);
    return Promise.all(cluster.docs.map((s) => s.setLinkFaults([], true, cluster.adminToken).catch(() => undefined)));
  });
  warmTwin.merge();
  // Order by cost: small divergences, the size sweep, and the largest divergence last, so a
  // tight budget drops only the most expensive measurement.
  await divergences(ctx.options.healDivergence.filter((u) => u <= 10_000));
  // Documents the earlier scenarios left count towards the total too (reported per row).
  for (const total of ctx.options.healBaseDocuments) {
    ctx.progress.status(`heal: writing base documents up to ${total}`);
    const d = divergence(sweepDivergence);
    const workload = `diverge ${sweepDivergence}/side, base docs grown to ${total}`;
    const rounds = roundsFor(ctx, sweepDivergence);
    if (overBudget(ctx, budget, total - baseDocs + 2 * d.updates * rounds, workload, rounds)) continue;
    await fill(cluster, baseDocs, total);
    baseDocs = total;
    await measure(ctx, cluster, `sweep${round++}`, d, rounds, workload, budget);
  }
  await divergences(ctx.options.healDivergence.filter((u) => u > 10_000));
}

interface Budget {
  readonly deadline: number;
  writesPerSec: number;
}

/** True (and a skipped row) when `writes` more writes would not fit in what is left of the budget. */
function overBudget(ctx: BenchContext, budget: Budget, writes: number, workload: string, steps: number): boolean {
  const left = budget.deadline - performance.now();
  const needMs = Number.isFinite(budget.writesPerSec) ? (writes / budget.writesPerSec) * 1000 * 1.5 : 0;
  if (needMs <= left) return false;
  for (let i = 0; i < steps; i++) ctx.progress.step(`heal: ${workload} skipped (time budget)`);
  ctx.add({ scenario: 'heal', system: 'concord', workload, clients: 0, rounds: [], median: {}, skipped: `time budget: ~${Math.round(needMs / 1000)} s of writes needed, ${Math.round(left / 1000)} s left` });
  return true;
}

async function measure(ctx: BenchContext, c: ConcordBenchCluster, prefix: string, d: Divergence, rounds: number, workload: string, budget: Budget): Promise<void> {
  const concord: Record<string, number>[] = [];
  const yjs: Record<string, number>[] = [];
  for (let r = 0; r < rounds; r++) {
    ctx.progress.step(`heal: ${workload} over ${d.docs} docs (round ${r + 1}/${rounds})`);
    const twin = new YjsTwin(d);
    try {
      const res = await healRound(c, `bench/heal/${prefix}r${r}`, d, twin, (l) => ctx.note(l));
      const st = await c.docs[0]?.status();
      concord.push({ ...res, totalDocs: Number(st?.documents ?? 0n) });
      budget.writesPerSec = res.writesPerSec;
    } catch (err) {
      ctx.note(`heal ${workload} round ${r + 1} failed: ${(err as Error).message.split('\n')[0]}`);
      await Promise.all(c.docs.map((s) => s.setLinkFaults([], true, c.adminToken).catch(() => undefined)));
    }
    const merged = twin.merge();
    yjs.push({ timeMs: merged.timeMs, bytes: merged.diffBytes, missingBytes: 2 * twin.rawBytes.a + twin.rawBytes.b });
  }
  const note = `${d.updates} map sets per side over ${d.docs} documents; time = heal until every node's ledger marks the episode converged; drained = when the bench's polls (every 100 ms, after it saw convergence) first found every replication queue empty, an upper bound`;
  ctx.add({ scenario: 'heal', system: 'concord', workload, clients: 0, rounds: concord, median: medianMetrics(concord), note, ...(concord.length === 0 ? { skipped: 'failed' } : {}) });
  ctx.add({
    scenario: 'heal', system: 'yjs in-process', workload, clients: 0, rounds: yjs, median: medianMetrics(yjs),
    note: 'two replicas per document exchange state vectors and diffs in one process (bytes = diffs + state vectors)',
  });
}

/** Writes one small document per id from `from` to `to` (LOCAL, spread over the nodes), then waits for replication. */
async function fill(c: ConcordBenchCluster, from: number, to: number): Promise<void> {
  await forEachLimit(to - from, 64, async (i) => {
    const stub = c.docs[i % c.docs.length];
    await stub?.apply({ documentId: `bench/heal/base/d${from + i}`, operations: [{ op: { $case: 'mapSet', value: { path: ['m', 'v'], valueJson: '"base document value"' } } }], ack: AckLevel.ACK_LEVEL_LOCAL }, 30_000);
  });
  await eventually('base documents to replicate', async () => {
    const all = await Promise.all(c.docs.map((s) => s.status()));
    return all.every((st) => st.peers.every((p) => p.backlogUpdates === 0n));
  }, 300_000);
}
