import { BenchContext } from '../BenchContext';
import { EchoServers } from '../echo/EchoServers';
import { Fixtures } from '../Fixtures';
import { Variant } from '../Measurement';
import { runLoad } from '../runLoad';

export const echoSteps = (ctx: BenchContext): number => 3 * ctx.options.rounds;

/**
 * The bare grpc-js unary echo with the payload of the convergent writes, `clients` callers
 * spread over the first `processes` echo servers (as over three masters).
 */
export function echoVariant(ctx: BenchContext, echo: EchoServers, processes: number, clients: number): Variant {
  const { options } = ctx;
  const payload = Buffer.alloc(options.valueBytes, 120);
  return {
    system: 'grpc-js echo',
    workload: `unary ${options.valueBytes} B, ${processes} server process${processes > 1 ? 'es' : ''}`,
    clients,
    run: () => runLoad({
      clients,
      durationMs: options.roundMs,
      warmupMs: options.warmupMs,
      serverPids: () => echo.pids(processes),
      op: async (w) => {
        await (echo.calls[w % processes] as EchoServers['calls'][number])(payload);
      },
    }),
  };
}

/**
 * Scenario 5: the bare grpc-js unary echo ceiling, with the same client count and payload as
 * the convergent writes, against one echo process and against three (clients spread over them
 * as over three masters). Every other throughput reads as a fraction of these. A third row,
 * one client calling one process in sequence, gives the round trip of one unary call: what a
 * request costs on this transport before any server does any work (evaluateTargets turns these
 * rows into the transport's bound on each target). The convergent scenario also runs the
 * three-process row in its own alternation, for the LOCAL / echo ratio.
 */
export async function echoCeiling(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const echo = await fx.echo();
  await ctx.alternate('echo', [echoVariant(ctx, echo, 1, ctx.options.clients), echoVariant(ctx, echo, 3, ctx.options.clients), echoVariant(ctx, echo, 1, 1)]);
}
