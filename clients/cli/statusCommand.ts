import type { Command } from 'commander';
import type { NodeStatusResult } from '../client/ConcordClientOptions';
import { isServiceError, statusName } from '../client/serviceError';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { printable } from './printable';

// `concord status`: AdminService.Status of every endpoint. The human view is one row per node
// and one indented row per peer link, so a partition (a peer down, a growing backlog) shows at a
// glance; --json prints the array of per-endpoint results.

export function registerStatusCommand(program: Command, io: Io): void {
  addClientOptions(program.command('status').description('show every node: role, reachability, documents, peer links'))
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

function errorText(error: unknown): string {
  // grpc-js ends connection errors with an empty "Resolution note:"; it only adds noise here.
  if (isServiceError(error)) return `${statusName(error.code)}: ${error.details.replace(/\s*Resolution note:\s*$/, '')}`;
  return error instanceof Error ? error.message : String(error);
}

export function formatStatusTable(results: readonly NodeStatusResult[]): string[] {
  const rows = [['NODE', 'ROLE', 'ADDRESS', 'REACHABLE', 'DOCS', 'UPTIME', 'PEERS UP']];
  const details: string[][] = [];
  for (const result of results) {
    if (!result.ok) {
      rows.push(['?', '?', result.address, 'no', '-', '-', '-']);
      details.push([`  ${errorText(result.error)}`]);
      continue;
    }
    const s = result.status;
    const up = s.peers.filter((p) => p.connected).length;
    rows.push([s.nodeId, s.role, result.address, 'yes', String(s.documents), duration(s.uptimeMs), `${up}/${s.peers.length}`]);
    details.push(
      s.peers.map(
        (p) =>
          `  -> ${p.nodeId || p.address}  ${p.connected ? 'connected' : 'DISCONNECTED'}  backlog=${p.backlogUpdates} updates/${p.backlogBytes} B  heard ${duration(p.lastHeardMsAgo)} ago`,
      ),
    );
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const pad = (row: string[]): string => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd();
  const lines = [pad(rows[0]!)];
  rows.slice(1).forEach((row, i) => lines.push(pad(row), ...(details[i] ?? [])));
  return lines;
}

function duration(ms: bigint): string {
  const seconds = Number(ms / 1000n);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}
