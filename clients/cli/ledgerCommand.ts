import type { Command } from 'commander';
import type { PartitionEpisode } from '../../proto/gen/concord/v1/admin';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { parsePositiveInt } from './cliParsers';
import { clusterView, requireNodes } from './clusterView';
import { errorText } from './errorText';
import { episodeCells, episodeHeader } from './formatEpisode';
import { formatTable } from './formatTable';
import { printable } from './printable';

// `concord ledger`: the partition ledger of every node (or one), newest episode first. Each node
// records its own side of every episode with a peer, so a partition between two nodes shows as
// two rows. Human output is one table; --json is one object per node for scripts.

interface LedgerCliOptions extends ClientCliOptions {
  node?: string;
  limit?: number;
}

type NodeLedger = { nodeId: string; address: string; episodes: PartitionEpisode[] } | { nodeId?: string; address: string; error: unknown };

export function registerLedgerCommand(program: Command, io: Io): void {
  addClientOptions(program.command('ledger').description('partition episodes seen by every node: cause, duration, divergence, convergence'))
    .option('--node <id>', 'only this node')
    .option('--limit <n>', 'newest episodes per node (node default 20, at most 200)', parsePositiveInt)
    .action(async (options: LedgerCliOptions) => {
      const ledgers = await withClient(options, async (client): Promise<NodeLedger[]> => {
        const view = await clusterView(client);
        if (options.node !== undefined) requireNodes(view, [options.node]);
        const nodes = [...view.nodes.values()].filter((n) => options.node === undefined || n.nodeId === options.node);
        const found = await Promise.all(
          nodes.map(async ({ nodeId, address }): Promise<NodeLedger> => {
            try {
              return { nodeId, address, episodes: (await client.ledger(address, { limit: options.limit })).episodes };
            } catch (error) {
              return { nodeId, address, error };
            }
          }),
        );
        // Without --node, an endpoint that did not answer Status is part of the answer too.
        return options.node === undefined ? [...found, ...view.unreachable] : found;
      });
      if (options.json) io.out(JSON.stringify(ledgers.map(ledgerJson), null, 2));
      else for (const line of formatLedger(ledgers, Date.now())) io.out(line);
      if (ledgers.some((l) => 'error' in l)) io.exitCode = 1;
    });
}

function ledgerJson(ledger: NodeLedger): unknown {
  if ('error' in ledger) return { nodeId: ledger.nodeId, address: ledger.address, error: errorText(ledger.error) };
  return { nodeId: ledger.nodeId, address: ledger.address, episodes: printable(ledger.episodes) };
}

export function formatLedger(ledgers: readonly NodeLedger[], nowMs: number): string[] {
  const rows = ledgers.flatMap((l) => ('error' in l ? [] : l.episodes.map((e) => [l.nodeId, ...episodeCells(e, nowMs)])));
  const lines = rows.length === 0 ? ['no partition episodes'] : formatTable([['NODE', ...episodeHeader], ...rows]);
  for (const l of ledgers) if ('error' in l) lines.push(`${l.nodeId ?? '?'} ${l.address}: ${errorText(l.error)}`);
  return lines;
}
