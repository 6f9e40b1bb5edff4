import { Command, Option } from 'commander';
import { ConcordNode } from './ConcordNode';
import { NodeConfig, NodeRole, parsePeers } from './NodeConfig';

/**
 * Entry point of one node process. Prints one JSON line {"event":"ready",...} on stdout when it
 * serves, logs to stderr, and stops cleanly on SIGINT/SIGTERM.
 */
async function main(argv: string[]): Promise<void> {
  const program = new Command('concord-node')
    .requiredOption('--id <id>', 'node id')
    .addOption(new Option('--role <role>', 'node role').choices(['master', 'witness', 'replica']).default('master'))
    .option('--listen <host:port>', 'gRPC listen address', '127.0.0.1:7001')
    .option('--peers <list>', 'peers as id=host:port[/role],...', '')
    .requiredOption('--data-dir <dir>', 'data directory')
    .option('--cluster-id <id>', 'cluster id (peers must match)', 'local')
    .option('--anti-entropy-interval-ms <ms>', 'period of anti-entropy rounds', '2000')
    .option('--heartbeat-interval-ms <ms>', 'heartbeat period on peer streams', '500')
    .option('--raft-tick-ms <ms>', 'consensus tick period', '50')
    .option('--election-timeout-ticks <n>', 'ticks without a leader before an election', '10')
    .parse(argv);
  const o = program.opts<Record<string, string>>();
  const config: NodeConfig = {
    nodeId: o.id as string,
    role: o.role as NodeRole,
    listen: o.listen as string,
    peers: parsePeers(o.peers ?? ''),
    dataDir: o.dataDir as string,
    clusterId: o.clusterId as string,
    antiEntropyIntervalMs: Number(o.antiEntropyIntervalMs),
    heartbeatIntervalMs: Number(o.heartbeatIntervalMs),
    raftTickMs: Number(o.raftTickMs),
    electionTimeoutTicks: Number(o.electionTimeoutTicks),
    adminToken: process.env.CONCORD_ADMIN_TOKEN === undefined || process.env.CONCORD_ADMIN_TOKEN === '' ? undefined : process.env.CONCORD_ADMIN_TOKEN,
  };
  const log = (msg: string): void => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), node: config.nodeId, msg })}\n`);
  };
  const node = await ConcordNode.start(config, log);
  process.stdout.write(`${JSON.stringify({ event: 'ready', nodeId: config.nodeId, address: node.address, pid: process.pid })}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`stopping on ${signal}`);
    node.stop().then(() => process.exit(0), (err: unknown) => {
      log(`stop failed: ${String(err)}`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const failCheck = setInterval(() => {
    const failure = node.documents.store.failure;
    if (failure !== undefined) {
      // A failed fsync is never retried: stop the process so no further write is acknowledged.
      log(`storage failure, exiting: ${failure.message}`);
      process.exit(70);
    }
  }, 200);
  failCheck.unref();
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`concord-node: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
