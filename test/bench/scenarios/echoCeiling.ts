import { Client, credentials } from '@grpc/grpc-js';
import { resolve } from 'node:path';
import { freeLoopbackPorts } from '../../../clients/cli/freeLoopbackPorts';
import { NodeProcess } from '../../../clients/cli/NodeProcess';
import { BenchContext } from '../BenchContext';
import { echoPath } from '../echo/echoServer';
import { Variant } from '../Measurement';
import { runLoad } from '../runLoad';
import { unaryStub } from '../unaryStub';

export const echoSteps = (ctx: BenchContext): number => 3 * ctx.options.rounds;

/**
 * Scenario 5: the bare grpc-js unary echo ceiling, with the same client count and payload as
 * the convergent writes, against one echo process and against three (clients spread over them
 * as over three masters). Every other throughput reads as a fraction of these. A third row,
 * one client calling one process in sequence, gives the round trip of one unary call: what a
 * request costs on this transport before any server does any work (evaluateTargets turns these
 * rows into the transport's bound on each target).
 */
export async function echoCeiling(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  const ports = await freeLoopbackPorts(3);
  const servers = ports.map((port, i) => new NodeProcess({
    id: `echo${i + 1}`,
    entry: resolve(__dirname, '..', 'echo', 'echoServer.ts'),
    args: ['--listen', `127.0.0.1:${port}`],
    cwd: resolve(__dirname, '..', '..', '..'),
    env: process.env,
    readyTimeoutMs: 60_000,
  }, () => undefined));
  const clients: Client[] = [];
  try {
    await Promise.all(servers.map((s) => s.start()));
    const identity = (b: Buffer): Buffer => b;
    const calls = ports.map((port) => {
      const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
      clients.push(client);
      return unaryStub<Buffer, Buffer>(client, echoPath, identity, identity);
    });
    const payload = Buffer.alloc(options.valueBytes, 120);
    const variant = (processes: number, clients: number): Variant => ({
      system: 'grpc-js echo',
      workload: `unary ${options.valueBytes} B, ${processes} server process${processes > 1 ? 'es' : ''}`,
      clients,
      run: () => runLoad({
        clients,
        durationMs: options.roundMs,
        warmupMs: options.warmupMs,
        serverPids: () => servers.slice(0, processes).map((s) => s.pid ?? 0),
        op: async (w) => {
          await (calls[w % processes] as (typeof calls)[number])(payload);
        },
      }),
    });
    await ctx.alternate('echo', [variant(1, options.clients), variant(3, options.clients), variant(1, 1)]);
  } finally {
    clients.forEach((c) => c.close());
    await Promise.all(servers.map((s) => s.stop(5000)));
  }
}
