import type { Command } from 'commander';
import { ConcordClient } from '../client/ConcordClient';
import { ops } from '../client/ops';
import { defaultEndpoints, parsePort, parsePositiveInt } from './cliParsers';
import type { Io } from './clientOptions';
import { launchCluster, type LocalCluster } from './launchCluster';
import { describeExit } from './NodeProcess';

// `concord up`: a local cluster of N masters in the foreground. Node output is echoed with a
// [nX] prefix; Ctrl-C (or SIGTERM/SIGHUP) stops every node by PID and waits for them; a second
// Ctrl-C kills them. A node that dies on its own is reported; when none is left, up exits 1.

interface UpOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  demo?: boolean;
}

export function registerUpCommand(program: Command, io: Io): void {
  program
    .command('up')
    .description('start a local cluster of masters on loopback and stay in the foreground')
    .option('--nodes <n>', 'how many masters', parsePositiveInt, 3)
    .option('--base-port <port>', 'port of n1; the others follow (0 = any free ports)', parsePort, 7001)
    .option('--data-dir <dir>', 'parent of the per-node data dirs', '.concord/data')
    .option('--demo', 'write a demo document once the cluster is up')
    .action((options: UpOptions) => up(io, options));
}

async function up(io: Io, options: UpOptions): Promise<void> {
  let running = options.nodes;
  let stopping = false;
  let cluster: LocalCluster | undefined;
  let allExited!: () => void;
  const done = new Promise<void>((resolve) => (allExited = resolve));
  const starting = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (cluster === undefined) return starting.abort(new Error(`${signal} while starting`));
    if (stopping) {
      io.err(`${signal} again: killing the nodes`);
      for (const node of cluster.nodes) void cluster.kill(node.id, 'SIGKILL');
      return;
    }
    stopping = true;
    io.out(`${signal}: stopping the nodes (Ctrl-C again to kill them)...`);
    void cluster.stop().then(allExited);
  };
  // Signals are ours from before the first spawn: the nodes run in their own process groups, so
  // dying on a default handler here would orphan them.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  try {
    io.out(`starting ${options.nodes} node${options.nodes === 1 ? '' : 's'}...`);
    cluster = await launchCluster({
      nodes: options.nodes,
      basePort: options.basePort,
      dataDir: options.dataDir,
      signal: starting.signal,
      onOutput: (id, _stream, line) => io.out(`[${id}] ${line}`),
      onExit: (id, info) => {
        if (!info.expected && !stopping) {
          io.err(`node ${id} exited unexpectedly (${describeExit(info.code, info.signal)})`);
          io.exitCode = 1;
        }
        if (--running === 0) allExited();
      },
    });
    for (const line of banner(cluster, options)) io.out(line);
    if (options.demo) await seedDemo(io, cluster);
    await done;
    io.out(stopping ? 'all nodes stopped' : 'every node has exited');
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    // A no-op when every node has already exited; otherwise nothing is left behind.
    await cluster?.stop();
  }
}

function banner(cluster: LocalCluster, options: UpOptions): string[] {
  const endpoints = cluster.nodes.map((n) => n.address).join(',');
  const isDefault = endpoints === defaultEndpoints.join(',');
  return [
    '',
    `Concord is up: ${cluster.nodes.length} master${cluster.nodes.length === 1 ? '' : 's'} on loopback (data in ${options.dataDir})`,
    '',
    ...cluster.nodes.map((n) => `  ${n.id}  ${n.address}  pid ${n.pid}  ${n.dataDir}`),
    '',
    'Try next, in another terminal:',
    ...(isDefault ? [] : [`  export CONCORD_ENDPOINTS=${endpoints}`]),
    `  npx concord set demo/hello greeting.text '"hi"'`,
    `  npx concord get demo/hello --endpoints ${endpoints}`,
    `  npx concord add demo/hello stats.visits 1 --ack quorum`,
    `  npx concord watch demo/hello`,
    `  npx concord status`,
    '',
    'Ctrl-C stops the cluster.',
    '',
  ];
}

/** Writes demo/hello so there is something to read; a failure is reported, not fatal. */
async function seedDemo(io: Io, cluster: LocalCluster): Promise<void> {
  const client = new ConcordClient({ endpoints: cluster.nodes.map((n) => n.address) });
  try {
    const greeting = [ops.set('greeting.text', 'hello from concord'), ops.counterAdd('stats.visits', 1)];
    const response = await client.apply('demo/hello', greeting, { ack: 'quorum' });
    io.out(`demo: wrote demo/hello on ${response.nodeId} (acked by ${response.ackedBy})`);
  } catch (error) {
    io.err(`demo: could not write demo/hello: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    client.close();
  }
}
