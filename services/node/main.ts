import { Command, Option } from 'commander';
import { createLogger, Logger } from '../telemetry/logger';
import { serviceNames } from '../telemetry/names';
import { startTelemetry } from '../telemetry/startTelemetry';
import { readTls, tlsFilesFrom, type TlsFiles } from '../../clients/client/tlsFiles';
import type { NodeConfig, NodeRole } from './NodeConfig';
import { readAccessPolicy } from './ReloadingPolicy';
import { preferEsmBuilds } from './preferEsmBuilds';
import { quietIpServerNameWarning } from './quietIpServerNameWarning';

// Only commander, the logger, the telemetry bootstrap, preferEsmBuilds, the TLS file checks and
// the access policy's (node built-ins only) are imported statically: the node itself (and with it @grpc/grpc-js and Yjs) is loaded after telemetry has
// started, so the gRPC instrumentation sees every client and server, and after the ES module
// builds of Yjs and lib0 took the place of their CommonJS builds.

let logger: Logger | undefined;

/**
 * Entry point of one node process. Prints one JSON line {"event":"ready",...} on stdout when it
 * serves, logs JSON lines to stderr (human-readable in a terminal), and stops cleanly on
 * SIGINT/SIGTERM, flushing pending spans first. Tracing is configured by the standard OTEL_*
 * variables and off without them; metrics are served for Prometheus with --metrics-port.
 */
async function main(argv: string[]): Promise<void> {
  quietIpServerNameWarning();
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
    .option('--raft-snapshot-entries <n>', 'snapshot the authoritative state every n applied entries', '10000')
    .option('--election-timeout-ticks <n>', 'ticks without a leader before an election', '10')
    .option('--cache-documents <n>', 'documents kept loaded in memory (the rest load on first use)', '10000')
    .option('--kv-quota-bytes <n>', 'size of the KV store (keys, values and per-version bookkeeping of the history kept, and leases) past which writes and lease grants that grow it are refused (RESOURCE_EXHAUSTED); default: 2 GiB, as etcd; give every voter the same: the leader\'s counts')
    .option('--watch-queue-max <n>', 'answers a KV watch stream may have waiting for a slow client before it ends (RESOURCE_EXHAUSTED)', '10000')
    .option('--tls-cert <file>', 'PEM certificate (a chain may follow) this node serves and presents to its peers; with --tls-key and --tls-ca, every connection is mutual TLS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA certificates that peers\', clients\' and gateways\' certificates must be signed by (callers without one are refused)')
    .option('--tls-reload-interval-ms <ms>', 'how often the TLS files (and --authz-file) are checked for changes (new connections use rotated certificates; the next call the new policy)', '10000')
    .option('--authz-file <file>', 'JSON access policy: users (client certificate common names), their roles, and what each role may read and write (documents, KV keys, admin calls); every client call is checked, anything not granted is refused (PERMISSION_DENIED). Needs --tls-*. Reloaded when it changes')
    .option('--metrics-port <port>', 'serve Prometheus metrics at :<port>/metrics (0 = off)', '0')
    .option('--metrics-host <host>', 'interface for the metrics endpoint (default: the --listen host)')
    .parse(argv);
  const o = program.opts<Record<string, string>>();
  const log = createLogger({ service: serviceNames.node, nodeId: o.id });
  logger = log;
  const listenHost = (o.listen as string).slice(0, (o.listen as string).lastIndexOf(':'));
  // Bad TLS files stop the node here, before telemetry starts and the metrics port opens.
  const tls = tlsFiles(o);
  if (tls !== undefined) readTls(tls, { role: 'node' });
  if (o.authzFile !== undefined) {
    if (tls === undefined) throw new Error('--authz-file needs mutual TLS (--tls-cert, --tls-key, --tls-ca): users are named by their client certificates');
    readAccessPolicy(o.authzFile);
  }
  for (const b of await preferEsmBuilds()) {
    if (b.loaded !== 'esm') log.warn(`${b.specifier} was loaded as CommonJS before the node started; its ES module build is not used`);
  }
  const telemetry = await startTelemetry({
    serviceName: serviceNames.node,
    instanceId: o.id,
    metricsPort: Number(o.metricsPort),
    metricsHost: o.metricsHost ?? listenHost,
    log: (level, msg) => log[level](msg),
  });
  const { ConcordNode } = await import('./ConcordNode');
  const { parsePeers } = await import('./NodeConfig');
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
    raftSnapshotEntries: Number(o.raftSnapshotEntries),
    electionTimeoutTicks: Number(o.electionTimeoutTicks),
    cacheDocumentsMax: Number(o.cacheDocuments),
    watchQueueMax: positiveInteger(o.watchQueueMax, '--watch-queue-max'),
    kvQuotaBytes: o.kvQuotaBytes === undefined ? undefined : positiveInteger(o.kvQuotaBytes, '--kv-quota-bytes'),
    tls,
    tlsReloadIntervalMs: Math.min(positiveInteger(o.tlsReloadIntervalMs, '--tls-reload-interval-ms'), 2 ** 31 - 1),
    ...(o.authzFile === undefined ? {} : { authzFile: o.authzFile }),
    adminToken: process.env.CONCORD_ADMIN_TOKEN === undefined || process.env.CONCORD_ADMIN_TOKEN === '' ? undefined : process.env.CONCORD_ADMIN_TOKEN,
  };
  const node = await ConcordNode.start(config, (msg) => log.info(msg));
  process.stdout.write(`${JSON.stringify({ event: 'ready', nodeId: config.nodeId, address: node.address, pid: process.pid })}\n`);
  let stopping = false;
  const failCheck = setInterval(() => {
    const failure = node.storageFailure;
    if (failure !== undefined && !stopping) {
      // A failed fsync is never retried: stop the process so no further write is acknowledged.
      log.fatal(`storage failure, exiting: ${failure.message}`);
      process.exit(70);
    }
  }, 200);
  failCheck.unref();
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(failCheck);
    log.info(`stopping on ${signal}`);
    node.stop()
      .then(() => telemetry.shutdown())
      .then(() => {
        // A failure while stopping (the last checkpoint) loses nothing, as the log stays for the
        // next start to replay, but it is reported as one.
        const failure = node.storageFailure;
        if (failure !== undefined) log.fatal(`storage failure while stopping: ${failure.message}`);
        process.exit(failure === undefined ? 0 : 70);
      }, (err: unknown) => {
        log.error(`stop failed: ${String(err)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  if (logger !== undefined) logger.fatal(`concord-node: ${message}`);
  else process.stderr.write(`concord-node: ${message}\n`);
  process.exit(1);
});

/** A flag's value as a positive integer; anything else stops the node before it starts. */
function positiveInteger(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, not ${value}`);
  return n;
}

function tlsFiles(o: Record<string, string>): TlsFiles | undefined {
  return tlsFilesFrom({ cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa }, { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' });
}
