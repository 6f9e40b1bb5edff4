import { status } from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { LinkFault, SetLinkFaultsResponse } from '../../proto/gen/concord/v1/admin';
import { isServiceError, serviceError } from '../client/serviceError';
import { addAdminOptions, withClient, type AdminCliOptions, type Io } from './clientOptions';
import { parseDuration } from './cliParsers';
import { clusterView, requireNodes, type ClusterView } from './clusterView';
import { errorText } from './errorText';
import { formatTable } from './formatTable';
import { planCuts, planDelay, planHeal, type FaultChange } from './linkFaultPlans';
import { formatPartitionExpression, linksToCut, parsePartitionExpression } from './partitionExpression';
import { toJsonLine } from './printable';
import { UsageError } from './reportError';
import { resolveAdminToken, type AdminToken } from './resolveAdminToken';

// `concord partition | heal | delay`: fault injection through AdminService.SetLinkFaults on
// every node the change touches (each node cuts or delays its own side of a link). Node ids
// are resolved with Status first, and the admin token is checked on every touched node before
// any of them changes, so a wrong token or a missing node leaves the cluster as it was.

type Describe = (fault: LinkFault) => string;

export function registerLinkFaultCommands(program: Command, io: Io): void {
  addAdminOptions(program.command('partition').description(`cut links: n1 '|' n2 n3 cuts every link between the groups, n1 -/- n2 one link`))
    .argument('<expression...>', `groups separated by '|' (quote it), or two nodes around -/-`)
    // `-/-` starts with a dash; commander would reject it as an unknown option.
    .allowUnknownOption()
    .addHelpText('after', `\nExamples:\n  concord partition n1 '|' n2 n3\n  concord partition "n1 n2 | n3"\n  concord partition n1 -/- n2`)
    .action((words: string[], options: AdminCliOptions) => {
      const expression = parsePartitionExpression(words);
      const links = linksToCut(expression);
      const describe: Describe = (f) => `cut ${f.peerId}`;
      const what = `partition ${formatPartitionExpression(expression)}`;
      return changeLinks(io, options, { what, named: links.flat(), describe, plan: (view) => planCuts(links, view.nodes) });
    });

  addAdminOptions(program.command('heal').description('clear injected faults: on every node, or only those involving the named nodes'))
    .argument('[nodes...]', 'node ids (default: every node, every fault)')
    .action((words: string[], options: AdminCliOptions) => {
      const ids = [...new Set(words)];
      const what = ids.length === 0 ? 'heal every link' : `heal ${ids.join(' ')}`;
      return changeLinks(io, options, { what, named: ids, everyNode: ids.length === 0, describe: (f) => `heal ${f.peerId}`, plan: (view) => planHeal(ids, view.nodes) });
    });

  addAdminOptions(program.command('delay').description('delay both directions of the link between two nodes (0 clears it)'))
    .argument('<a>', 'node id')
    .argument('<b>', 'node id')
    .argument('<duration>', '200ms, 1.5s or a number of ms; 0 clears the delay', parseDuration)
    .action((a: string, b: string, delayMs: number, options: AdminCliOptions) => {
      if (a === b) throw new UsageError(`a node has no link to itself: ${a} ${b}`);
      const describe: Describe = (f) => (f.delayMs > 0 ? `delay ${f.peerId} ${f.delayMs}ms` : `no delay to ${f.peerId}`);
      const what = `delay ${a} <-> ${b} ${delayMs}ms`;
      return changeLinks(io, options, { what, named: [a, b], describe, plan: (view) => planDelay(a, b, delayMs, view.nodes) });
    });
}

interface LinkChange {
  /** The command as the output's first line says it. */
  what: string;
  /** Nodes that must be reachable endpoints. */
  named: readonly string[];
  /** The change is meant for every node: one out of reach is reported and fails the command. */
  everyNode?: boolean;
  describe: Describe;
  plan: (view: ClusterView) => FaultChange[];
}

async function changeLinks(io: Io, options: AdminCliOptions, { what, named, everyNode, describe, plan }: LinkChange): Promise<void> {
  const admin = resolveAdminToken(options.adminToken, process.env, process.cwd());
  await withClient(options, async (client) => {
    const view = await clusterView(client);
    // Both ends of every link must be told, so nothing changes while a named node is out of reach.
    requireNodes(view, named, '; nothing was changed');
    if (everyNode && view.unreachable.length > 0) {
      for (const { address, error } of view.unreachable) io.err(`warning: ${address} is unreachable, its faults are unchanged: ${errorText(error)}`);
      io.exitCode = 1;
    }
    const changes = plan(view);
    // An empty merge changes nothing but needs the credential: all nodes accept it or none changes.
    await Promise.all(changes.map((c) => client.setLinkFaults(c.address, []))).catch((error: unknown) => {
      throw explainCredential(error, admin);
    });
    const results = await Promise.allSettled(changes.map((c) => client.setLinkFaults(c.address, c.faults, { replace: c.replace })));
    report(io, options, what, changes, results, describe);
  }, admin.token);
}

function report(io: Io, options: AdminCliOptions, what: string, changes: FaultChange[], results: PromiseSettledResult<SetLinkFaultsResponse>[], describe: Describe): void {
  const failed = results.filter((r) => r.status === 'rejected').length;
  if (options.json) {
    const nodes = changes.map((c, i) => {
      const r = results[i]!;
      const outcome = r.status === 'fulfilled' ? { ok: true, inForce: r.value.faults } : { ok: false, error: errorText(r.reason) };
      return { nodeId: c.nodeId, address: c.address, replace: c.replace, set: c.faults, ...outcome };
    });
    io.out(toJsonLine({ command: what, ok: failed === 0, nodes }));
  } else {
    io.out(what);
    const rows = changes.map((c, i) => {
      const r = results[i]!;
      const action = c.replace && c.faults.length === 0 ? 'heal every link' : c.faults.map(describe).join(', ');
      return ['', c.nodeId, action, r.status === 'fulfilled' ? `now: ${inForce(r.value.faults)}` : `FAILED: ${errorText(r.reason)}`];
    });
    for (const line of formatTable(rows)) io.out(line);
  }
  if (failed > 0) {
    io.err(`error: ${failed} of ${changes.length} nodes did not take the change; \`concord heal\` clears every fault`);
    io.exitCode = 1;
  }
}

function inForce(faults: readonly LinkFault[]): string {
  if (faults.length === 0) return 'no faults';
  return faults.map((f) => [f.peerId, ...(f.cut ? ['cut'] : []), ...(f.delayMs > 0 ? [`${f.delayMs}ms delay`] : [])].join(' ')).join('; ');
}

/** Says where a rejected token came from, since there are three places it may have. */
function explainCredential(error: unknown, admin: AdminToken): unknown {
  if (!isServiceError(error) || error.code !== status.UNAUTHENTICATED) return error;
  return serviceError(status.UNAUTHENTICATED, `${error.details}; the token used came from ${admin.source}`);
}
