import { performance } from 'node:perf_hooks';
import { ConcordClient } from '../../../clients/client/ConcordClient';
import { ops } from '../../../clients/client/ops';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { forEachLimit } from '../../../clients/client/forEachLimit';

export const scaleSteps = (ctx: BenchContext): number => ctx.options.scaleCheckpoints.length;

const mib = (b: number): number => b / 2 ** 20;

/**
 * Scenario 4: one node filled with small documents (one 32-byte map set each, 64 writers at
 * LOCAL through the client helper's streamed write path, as a bulk load would) up to each checkpoint: write throughput of the segment, RSS, and the time a restart
 * takes until the node serves again (it counts the document records; documents load on first
 * use). Stops at the first checkpoint it cannot reach within the time budget, and says so.
 */
export async function scaleDocuments(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const node = await fx.startConcord(1, 'scale');
  const started = performance.now();
  try {
    const stub = node.docs[0];
    if (stub === undefined) throw new Error('no node');
    const emptyRss = node.rssBytes(0);
    let have = 0;
    let rate = Number.NaN;
    for (const target of options.scaleCheckpoints) {
      const left = options.scaleBudgetMs - (performance.now() - started);
      const projectedMs = Number.isFinite(rate) ? ((target - have) / rate) * 1000 * 1.3 : 0;
      if (projectedMs > left) {
        ctx.progress.step(`scale: ${target} docs skipped (time budget)`);
        ctx.add({ scenario: 'scale', system: 'concord (1 node)', workload: `${target} docs`, clients: 64, rounds: [], median: {}, skipped: `time budget: ~${Math.round(projectedMs / 1000)} s needed, ${Math.round(left / 1000)} s left` });
        continue;
      }
      const t0 = performance.now();
      const client = new ConcordClient({ endpoints: [node.cluster.nodes[0]?.address ?? ''] });
      const writer = client.writer();
      try {
        await forEachLimit(target - have, 64, async (i) => {
          const n = have + i;
          if (n % 5000 === 0) ctx.progress.status(`scale: writing document ${n} of ${target}`);
          await writer.apply(`bench/scale/d${n}`, [ops.set(['m', 'v'], 'small document value 0123456')], { deadlineMs: 30_000 });
        });
      } finally {
        await writer.close();
        client.close();
      }
      rate = ((target - have) / (performance.now() - t0)) * 1000;
      have = target;
      const rss = node.rssBytes(0);
      ctx.progress.status(`scale: restarting with ${target} docs`);
      const r0 = performance.now();
      await node.cluster.restart('n1');
      const restartMs = performance.now() - r0;
      const st = await stub.status(60_000);
      const row = {
        documents: Number(st.documents), writeOpsPerSec: rate, rssMiB: mib(rss), bytesPerDoc: (rss - emptyRss) / target,
        restartMs, rssAfterRestartMiB: mib(node.rssBytes(0)),
      };
      ctx.progress.step(`scale: ${target} docs done`);
      ctx.add({
        scenario: 'scale', system: 'concord (1 node)', workload: `${target} docs`, clients: 64, rounds: [row], median: row,
        note: 'restart = SIGTERM until the restarted process prints ready (includes the tsx start of the process, ~1-2 s here)',
      });
    }
  } finally {
    await node.stop();
  }
}
