import { AckLevel } from '../../../proto/gen/concord/v1/documents';
import { OtlpReceiverProcess } from '../references/OtlpReceiverProcess';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { Variant } from '../Measurement';
import { processCpuMs } from '../runLoad';
import { ratio, round3 } from '../stats';
import { concordApply } from './convergentVariants';

/** Alternated rounds per side: at least two, so each side goes first once. */
const tracingRounds = (ctx: BenchContext): number => Math.max(2, ctx.options.rounds);

export const tracingSteps = (ctx: BenchContext): number => BenchContext.alternateSteps(2, tracingRounds(ctx));

export const tracingWorkload = { off: 'apply LOCAL, tracing off', on: 'apply LOCAL, tracing on (OTLP/gRPC)' } as const;

/**
 * Issue 5's cost of tracing: the convergent LOCAL workload (64 clients spread over the masters,
 * as in the convergent scenario) against two fresh 3-master clusters, one without any OTEL_*
 * variable (tracing off, no SDK loaded) and one exporting every span over OTLP/gRPC to a
 * receiver in a process of its own (as a collector runs beside the nodes, not in their
 * clients), alternated round by round. The tracing-on row carries on/off throughput; the
 * receiver's CPU time goes in a note.
 */
export async function tracingCost(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const receiver = await OtlpReceiverProcess.start(ctx.runDir);
  // From its start: every span it will count, the nodes' first exports too, is in its CPU time.
  const receiverCpuBefore = processCpuMs(receiver.pid);
  try {
    // Nothing the bench was started with may turn tracing on (or tune it) on either side.
    const clean = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('OTEL_')).map((k) => [k, undefined]));
    const [off, on] = await Promise.all([
      fx.startConcord(3, 'tracing-off', clean),
      fx.startConcord(3, 'tracing-on', {
        ...clean,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      }),
    ]);
    // The first batch (5 s schedule by default) is awaited with the nodes up: a node's stop
    // can exit on a closed-storage check before its SDK flushes, losing the last batch.
    const rounds = tracingRounds(ctx);
    const firstBatch = receiver.waitFor('a first batch from the tracing-on cluster', (s) => s.spans > 0,
      15_000 + 2 * rounds * (ctx.options.roundMs + ctx.options.warmupMs)).catch(() => undefined);
    // Each cluster is fresh: one unmeasured round each first (JIT, caches), or the row that went
    // first paid for it (see convergentWrites).
    const variant = (v: Variant, workload: string, note: string): Variant => ({ ...v, workload, note, run: () => v.run(), warmUp: () => v.run() });
    const n = ctx.options.clients;
    // With the nodes' CPU per write, apart from the load generator's (the receiver's is noted).
    const rows = await ctx.alternate('tracing', [
      variant(concordApply(ctx, off.docs, AckLevel.ACK_LEVEL_LOCAL, n, 1, false, () => off.pids()).variant, tracingWorkload.off, 'no OTEL_* variables: no SDK loaded'),
      variant(concordApply(ctx, on.docs, AckLevel.ACK_LEVEL_LOCAL, n, 1, false, () => on.pids()).variant, tracingWorkload.on,
        'OTEL_EXPORTER_OTLP_ENDPOINT = an OTLP/gRPC receiver in a process of its own, SDK defaults (always-on sampler, batch span processor)'),
    ], rounds);
    const [offRow, onRow] = rows;
    if (offRow !== undefined && onRow !== undefined) {
      offRow.median.opsVsOff = 1;
      onRow.median.opsVsOff = round3(ratio(onRow.median.opsPerSec, offRow.median.opsPerSec));
    }
    await firstBatch;
    await Promise.all([off.stop(), on.stop()]);
    // Counted after the stop, which flushes the rest when the node exits through telemetry shutdown.
    const cpuMs = processCpuMs(receiver.pid) - receiverCpuBefore;
    const got = await receiver.stop();
    if (got.spans === 0) ctx.note('tracing: failed: the tracing-on cluster exported no spans, so its row does not measure tracing');
    else {
      ctx.note(`tracing: the receiver got ${got.spans} spans in ${got.exports} exports from ${got.services.length} exporting processes of the tracing-on cluster; ` +
        `receiving them (gRPC, decoding, keeping them) took its own process ${Math.round(cpuMs)} ms of CPU (${(cpuMs * 1000 / got.spans).toFixed(1)} µs per span), on the same cores as the nodes and the load generator`);
    }
  } finally {
    await receiver.stop(); // a no-op once stopped
  }
}
