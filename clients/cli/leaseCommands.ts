import { status } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConcordClient } from '../client/ConcordClient';
import { isServiceError } from '../client/serviceError';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { errorText } from './errorText';
import { headerJson } from './kvOutput';
import { formatMs, parseLeaseId, parseTtl } from './kvParsers';
import { printable } from './printable';

// `concord lease grant|keepalive|timetolive|list|revoke`. A grant prints the lease id (for `kv put --lease`)
// and its fencing token, which grows with every grant: a resource guarded by a lease rejects a
// holder whose token is older than one it has seen. keepalive renews at a third of the TTL, so
// two renewals can fail before the lease runs out.

export function registerLeaseCommands(program: Command, io: Io): void {
  const lease = program.command('lease').description('leases: keys attached to one vanish when it expires; each grant has a growing fencing token');

  addClientOptions(lease.command('grant').description('grant a lease with a time to live'))
    .argument('<ttl>', 'time to live: 10s, 500ms, 2m (the node accepts 1s..24h)', parseTtl)
    .action((ttlMs: number, options: ClientCliOptions) =>
      withClient(options, async (client) => {
        const r = await client.leaseGrant(ttlMs);
        if (options.json) io.out(JSON.stringify({ ...(printable({ id: r.id, ttlMs: r.ttlMs, fencingToken: r.fencingToken }) as object), ...headerJson(r.header) }));
        else io.out(`lease ${r.id} granted  ttl=${formatMs(r.ttlMs)}  fencing_token=${r.fencingToken}`);
      }),
    );

  addClientOptions(lease.command('keepalive').description('renew a lease every ttl/3 until Ctrl-C (or once)'))
    .argument('<id>', 'the lease id', parseLeaseId)
    .option('--once', 'renew once and exit')
    .action((id: bigint, options: ClientCliOptions & { once?: boolean }) => withClient(options, (client) => keepAlive(io, client, id, options)));

  addClientOptions(lease.command('timetolive').description("a lease's time left on the leader's clock, granted TTL, fencing token and attached keys"))
    .argument('<id>', 'the lease id', parseLeaseId)
    .option('--keys', 'list the keys attached to it')
    .action((id: bigint, options: ClientCliOptions & { keys?: boolean }) =>
      withClient(options, async (client) => {
        const r = await client.leaseTimeToLive(id, { keys: options.keys === true });
        if (options.json) {
          io.out(JSON.stringify({ ...(printable(leaseFields(r)) as object), ...(options.keys === true ? { keys: r.keys } : {}), ...headerJson(r.header) }));
          return;
        }
        io.out(leaseLine(r));
        if (options.keys === true) for (const key of r.keys) io.out(`  ${key}`);
      }),
    );

  addClientOptions(lease.command('list').description("every lease granted, with its time left on the leader's clock"))
    .action((options: ClientCliOptions) =>
      withClient(options, async (client) => {
        const r = await client.leaseLeases();
        if (options.json) {
          io.out(JSON.stringify({ leases: r.leases.map((l) => printable(leaseFields(l))), ...headerJson(r.header) }));
          return;
        }
        io.out(`found ${r.leases.length} lease${r.leases.length === 1 ? '' : 's'}`);
        for (const l of r.leases) io.out(leaseLine(l));
      }),
    );

  addClientOptions(lease.command('revoke').description('end a lease now and delete its keys'))
    .argument('<id>', 'the lease id', parseLeaseId)
    .action((id: bigint, options: ClientCliOptions) =>
      withClient(options, async (client) => {
        const { header } = await client.leaseRevoke(id);
        io.out(options.json ? JSON.stringify({ id: printable(id), revoked: true, ...headerJson(header) }) : `ok  lease ${id} revoked`);
      }),
    );
}

/** The fields a lease is shown with (LeaseTimeToLiveResponse and LeaseStatus share them). */
function leaseFields(l: { id: bigint; ttlMs: bigint; grantedTtlMs: bigint; fencingToken: bigint; keyCount: bigint }): Record<string, bigint> {
  return { id: l.id, ttlMs: l.ttlMs, grantedTtlMs: l.grantedTtlMs, fencingToken: l.fencingToken, keyCount: l.keyCount };
}

function leaseLine(l: { id: bigint; ttlMs: bigint; grantedTtlMs: bigint; fencingToken: bigint; keyCount: bigint }): string {
  return `lease ${l.id}  ttl=${formatMs(l.ttlMs)}  granted=${formatMs(l.grantedTtlMs)}  fencing_token=${l.fencingToken}  keys=${l.keyCount}`;
}

async function keepAlive(io: Io, client: ConcordClient, id: bigint, options: ClientCliOptions & { once?: boolean }): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let ttlMs = 0;
    let renewedAt = Date.now();
    while (!stop.signal.aborted) {
      try {
        const r = await client.leaseKeepAlive(id);
        ttlMs = Number(r.ttlMs);
        renewedAt = Date.now();
        if (options.json) io.out(JSON.stringify(printable({ id, ttlMs, fencingToken: r.fencingToken })));
        else io.out(`lease ${id} kept alive  ttl=${formatMs(ttlMs)}  fencing_token=${r.fencingToken}`);
      } catch (error) {
        // A failover or a slow election is worth riding out while the lease may still be alive;
        // anything else (NOT_FOUND: expired or revoked) is final.
        const transient = isServiceError(error) && (error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED);
        if (options.once || !transient || ttlMs === 0 || Date.now() - renewedAt > ttlMs) throw error;
        io.err(`warning: keep-alive failed, retrying: ${errorText(error)}`);
      }
      if (options.once) return;
      await sleep(Math.max(100, Math.floor(ttlMs / 3)), undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
