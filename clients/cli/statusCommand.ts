import type { Command } from 'commander';
import type { NodeStatusResult } from '../client/ConcordClientOptions';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { errorText } from './errorText';
import { formatStatusTable } from './formatStatusTable';
import { printable } from './printable';

// `concord status`: AdminService.Status of every endpoint. The human view is formatStatusTable;
// --json prints the array of per-endpoint results with every field of the response (links'
// reachable/cut/delay, traffic, recent partition episodes, the authoritative log in `authority`).

export function registerStatusCommand(program: Command, io: Io): void {
  addClientOptions(program.command('status').description('show every node: role, authoritative log (term, leader, commit, voters\' log positions), documents, peer links and faults, recent partitions'))
    .action(async (options: ClientCliOptions) => {
      const results = await withClient(options, (client) => client.statusAll());
      if (options.json) io.out(JSON.stringify(results.map(statusJson), null, 2));
      else for (const line of formatStatusTable(results)) io.out(line);
      // Scripts can tell "some node is down" from the exit code.
      if (results.some((r) => !r.ok)) io.exitCode = 1;
    });
}

function statusJson(result: NodeStatusResult): unknown {
  if (result.ok) return { address: result.address, reachable: true, ...(printable(result.status) as object) };
  return { address: result.address, reachable: false, error: errorText(result.error) };
}
