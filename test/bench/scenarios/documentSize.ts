import { AckLevel } from '../../../proto/gen/concord/v1/documents';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { runLoad } from '../runLoad';
import { medianMetrics } from '../stats';
import { editedText } from './editedText';

export const documentSizeSteps = (ctx: BenchContext): number => ctx.options.documentEdits.length;

/**
 * Scenario 7: what one write costs as a document grows. A text with a long edit history
 * (`documentEdits`: 1k to 100k edits, pushed as one Yjs update) takes sequential typed inserts
 * at LOCAL through n1 of the shared cluster; the peers apply each one too. Reports latency,
 * the cluster's CPU per write and the version token each write returns (it carries the
 * document's delete set). Cost that grows with the history shows here.
 */
export async function documentSize(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const { options } = ctx;
  const concord = await fx.concord();
  const stub = concord.docs[0];
  if (stub === undefined) throw new Error('no node');
  for (const edits of options.documentEdits) {
    ctx.progress.step(`docsize: text with ${edits} edits`);
    const documentId = `bench/docsize/e${edits}`;
    const state = editedText(edits);
    // Applying the 100k-edit text takes a node over a second of Yjs work, past the failure
    // detector's grace: an ALL push can then fail fast as UNAVAILABLE although every node gets
    // it. So the push is LOCAL, and every node is read at its version (waiting until it has it).
    const pushed = await stub.pushUpdate({ documentId, update: state, ack: AckLevel.ACK_LEVEL_LOCAL }, 60_000);
    await Promise.all(concord.docs.map((node) => node.get({ documentId, minVersion: pushed.version }, 60_000)));
    let tokenBytes = 0;
    let writes = 0;
    const res = await runLoad({
      clients: 1,
      durationMs: options.roundMs,
      warmupMs: options.warmupMs,
      serverPids: () => concord.cluster.nodes.map((n) => n.pid ?? 0),
      onError: ctx.errorNote(`docsize ${edits}`),
      op: async (_w, n) => {
        const r = await stub.apply({ documentId, operations: [{ op: { $case: 'textInsert', value: { path: ['t'], index: n % 64, text: 'q' } } }], ack: AckLevel.ACK_LEVEL_LOCAL }, 10_000);
        tokenBytes += r.version.byteLength;
        writes++;
      },
    });
    const row = { ...res, documentBytes: state.byteLength, tokenBytes: tokenBytes / Math.max(1, writes) };
    ctx.add({ scenario: 'docsize', system: 'concord', workload: `text with ${edits} edits`, clients: 1, rounds: [row], median: medianMetrics([row]), note: 'sequential typed inserts at LOCAL through one node of three; CPU of all three nodes' });
  }
}
