import * as path from 'node:path';
import { AckLevel } from '../../../proto/gen/concord/v1/documents';
import { tlsChannelCredentials } from '../../../clients/client/tlsCredentials';
import { BenchContext } from '../BenchContext';
import { Fixtures } from '../Fixtures';
import { Variant } from '../Measurement';
import { runLoad, paddedValue } from '../runLoad';
import { ratio, round3 } from '../stats';
import { concordApply } from './convergentVariants';
import { concordKv } from './kvTargets';

/** Alternated rounds per side: at least two, so each side goes first once. */
const tlsRounds = (ctx: BenchContext): number => Math.max(2, ctx.options.rounds);

export const tlsWorkloads = {
  apply: { plain: 'apply LOCAL, plaintext', tls: 'apply LOCAL, mutual TLS' },
  put: { plain: 'kv put, plaintext', tls: 'kv put, mutual TLS' },
} as const;

export const tlsSteps = (ctx: BenchContext): number => 2 * BenchContext.alternateSteps(2, tlsRounds(ctx));

const fixtures = path.resolve(__dirname, '../../fixtures/tls');

/**
 * The cost of mutual TLS: two fresh 3-master clusters, one plaintext and one started with
 * --tls-* (the test fixtures' node certificate; the load generator presents a client
 * certificate), alternated round by round on the convergent LOCAL workload (64 clients spread
 * over the masters) and on authoritative puts (64 clients on the leader). Node-to-node traffic
 * (replication, anti-entropy, consensus) crosses TLS too. The TLS rows carry TLS/plaintext
 * throughput.
 */
export async function tlsCost(ctx: BenchContext, fx: Fixtures): Promise<void> {
  const node = { certFile: path.join(fixtures, 'node.pem'), keyFile: path.join(fixtures, 'node-key.pem'), caFile: path.join(fixtures, 'ca.pem') };
  const client = { certFile: path.join(fixtures, 'client.pem'), keyFile: path.join(fixtures, 'client-key.pem'), caFile: node.caFile };
  const [plain, secure] = await Promise.all([
    fx.startConcord(3, 'tls-off'),
    fx.startConcord(3, 'tls-on', undefined, {
      extraArgs: ['--tls-cert', node.certFile, '--tls-key', node.keyFile, '--tls-ca', node.caFile],
      credentials: tlsChannelCredentials(client),
    }),
  ]);
  const rounds = tlsRounds(ctx);
  const n = ctx.options.clients;
  // Each cluster is fresh: a variant without its own warm-up runs one unmeasured round first
  // (JIT, caches), or the row that went first paid for it (see convergentWrites).
  const named = (v: Variant, workload: string, note: string): Variant => ({ warmUp: () => v.run(), ...v, workload, note });
  const applyRows = await ctx.alternate('tls', [
    named(concordApply(ctx, plain.docs, AckLevel.ACK_LEVEL_LOCAL, n, 1, false, () => plain.pids()).variant, tlsWorkloads.apply.plain, 'no --tls-* flags'),
    named(concordApply(ctx, secure.docs, AckLevel.ACK_LEVEL_LOCAL, n, 1, false, () => secure.pids()).variant, tlsWorkloads.apply.tls, 'every client and node connection mutual TLS (P-256 certificates)'),
  ], rounds);
  const put = async (cluster: typeof plain, workload: string, note: string): Promise<Variant> => {
    const target = concordKv(cluster.kv[await cluster.leader()] as (typeof cluster.kv)[number]);
    const load = (durationMs: number, warmupMs: number, onError: (err: unknown) => void, minCalls = 0): ReturnType<typeof runLoad> => runLoad({
      clients: n,
      durationMs,
      warmupMs,
      minCalls,
      onError,
      serverPids: () => cluster.pids(),
      op: (w, i) => target.put(`bench/tls/w${w}`, paddedValue(`${w}:${i}:`, ctx.options.valueBytes)),
    });
    return {
      system: 'concord',
      workload,
      clients: n,
      note,
      run: () => load(ctx.options.roundMs, ctx.options.warmupMs, ctx.errorNote(`tls ${workload}`)),
      warmUp: () => load(ctx.options.warmupRoundMs, 0, () => undefined, ctx.options.warmupRoundCalls),
    };
  };
  const putRows = await ctx.alternate('tls', [
    await put(plain, tlsWorkloads.put.plain, 'no --tls-* flags; 64 clients on the leader'),
    await put(secure, tlsWorkloads.put.tls, 'mutual TLS; 64 clients on the leader'),
  ], rounds);
  for (const [off, on] of [applyRows, putRows]) {
    if (off === undefined || on === undefined) continue;
    off.median.opsVsPlain = 1;
    on.median.opsVsPlain = round3(ratio(on.median.opsPerSec, off.median.opsPerSec));
  }
  await Promise.all([plain.stop(), secure.stop()]);
}
