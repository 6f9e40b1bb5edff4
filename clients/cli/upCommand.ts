import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConcordClient } from '../client/ConcordClient';
import { ops } from '../client/ops';
import { readTls, tlsFilesFrom, type TlsFiles } from '../client/tlsFiles';
import { readAccessPolicy } from '../../services/node/ReloadingPolicy';
import { defaultEndpoints, parsePort, parsePositiveInt } from './cliParsers';
import type { Io } from './clientOptions';
import { launchCluster, type LaunchRole, type LocalCluster } from './launchCluster';
import { UsageError } from './reportError';
import { describeExit } from './NodeProcess';
import { provisionAdminToken, type ProvisionedAdminToken } from './provisionAdminToken';
import { adminTokenFileName, defaultDataDir } from './resolveAdminToken';
import { buildMobileApp } from '../mobile/buildMobileApp';
import { startGateway, type Gateway } from '../../services/gateway/startGateway';
import { parseAllowedHosts } from '../../services/gateway/hostAllowed';

// `concord up`: a local cluster of N masters in the foreground (with --witness, N-1 masters and
// a witness: the smallest deployment that keeps authoritative operations alive when one master
// is lost, without a third copy of every document). Node output is echoed with a
// [nX] prefix; Ctrl-C (or SIGTERM/SIGHUP) stops every node by PID and waits for them; a second
// Ctrl-C kills them. A node that dies on its own is reported; when none is left, up exits 1.
// Every node gets the cluster's admin token (provisionAdminToken.ts) in CONCORD_ADMIN_TOKEN.

interface UpOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  demo?: boolean;
  witness?: boolean;
  adminToken?: string;
  gatewayPort: number;
  gateway: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  authzFile?: string;
}

export function registerUpCommand(program: Command, io: Io): void {
  program
    .command('up')
    .description('start a local cluster of masters (or masters + a witness) on loopback and stay in the foreground')
    .option('--nodes <n>', 'how many nodes (voters), witness included', parsePositiveInt, 3)
    .option('--witness', 'make the last node a witness (w1): with 3 nodes, masters n1 n2 + witness w1')
    .option('--base-port <port>', 'port of n1; the others follow (0 = any free ports)', parsePort, 7001)
    .option('--data-dir <dir>', 'parent of the per-node data dirs', defaultDataDir)
    .option('--demo', 'write a demo document once the cluster is up')
    .option('--gateway-port <port>', 'port of the gateway: demo app + gRPC-Web (0 = any free port)', parsePort, 8080)
    .option('--no-gateway', 'do not start the gateway and the demo app')
    .option('--tls-cert <file>', 'mutual TLS: the nodes\' certificate (it must name 127.0.0.1 and serve as a client certificate too; the gateway and the demo writer present it)')
    .option('--tls-key <file>', 'mutual TLS: the private key of --tls-cert')
    .option('--tls-ca <file>', 'mutual TLS: the CA certificates every caller\'s certificate must be signed by')
    .option('--authz-file <file>', 'with --tls-*: the access policy every node checks each client call against (users are client certificate common names; the gateway and the demo writer are the nodes\' certificate\'s)')
    .option('--admin-token <token>', `admin token for the nodes (default: $CONCORD_ADMIN_TOKEN, else <data-dir>/${adminTokenFileName}, created at first start)`)
    .action((options: UpOptions) => up(io, options));
}

async function up(io: Io, options: UpOptions): Promise<void> {
  let running = options.nodes;
  let stopping = false;
  let cluster: LocalCluster | undefined;
  let gateway: Gateway | undefined;
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
    if (options.witness && options.nodes < 2) throw new UsageError('--witness needs at least 2 nodes: a witness holds no documents, so a master is needed too');
    const roles = options.witness ? [...Array.from({ length: options.nodes - 1 }, (): LaunchRole => 'master'), 'witness' as const] : undefined;
    const tls = tlsFilesFrom({ cert: options.tlsCert, key: options.tlsKey, ca: options.tlsCa }, { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' });
    // Checked here, so bad files are one message instead of every node failing on its own.
    if (tls !== undefined) readTls(tls, { role: 'node' });
    if (options.authzFile !== undefined) {
      if (tls === undefined) throw new UsageError('--authz-file needs --tls-cert, --tls-key and --tls-ca: users are named by their client certificates');
      readAccessPolicy(options.authzFile);
    }
    const admin = provisionAdminToken(options.dataDir, options.adminToken, process.env);
    io.out(`starting ${options.nodes} node${options.nodes === 1 ? '' : 's'}...`);
    cluster = await launchCluster({
      nodes: options.nodes,
      roles,
      basePort: options.basePort,
      dataDir: options.dataDir,
      extraArgs: [
        ...(tls === undefined ? [] : ['--tls-cert', resolve(tls.certFile), '--tls-key', resolve(tls.keyFile), '--tls-ca', resolve(tls.caFile)]),
        ...(options.authzFile === undefined ? [] : ['--authz-file', resolve(options.authzFile)]),
      ],
      env: { ...process.env, CONCORD_ADMIN_TOKEN: admin.token },
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
    if (options.gateway) {
      try {
        gateway = await startGateway({
          nodes: cluster.nodes.map((n) => ({ id: n.id, address: n.address, role: n.role })),
          port: options.gatewayPort,
          adminToken: admin.token,
          staticDir: await buildMobileApp(),
          jaegerUrl: process.env.CONCORD_JAEGER_URL,
          allowedHosts: parseAllowedHosts(process.env.CONCORD_ALLOWED_HOSTS),
          tls,
        });
      } catch (err) {
        io.err(`demo gateway not started: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const line of banner(cluster, options, admin, tls)) io.out(line);
    if (gateway !== undefined) {
      io.out(`Demo (four phones + cluster panel): ${gateway.url}   one phone: ${gateway.url}app/?user=ann`);
      io.out('');
    }
    if (options.demo) await seedDemo(io, cluster, tls);
    await done;
    io.out(stopping ? 'all nodes stopped' : 'every node has exited');
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    await gateway?.close();
    // A no-op when every node has already exited; otherwise nothing is left behind.
    await cluster?.stop();
  }
}

function banner(cluster: LocalCluster, options: UpOptions, admin: ProvisionedAdminToken, tls: TlsFiles | undefined): string[] {
  const all = cluster.nodes.map((n) => n.address).join(',');
  const masters = cluster.nodes.filter((n) => n.role === 'master');
  const witnesses = cluster.nodes.filter((n) => n.role === 'witness');
  // A witness refuses document calls, so document commands must not be balanced onto it.
  const endpoints = masters.map((n) => n.address).join(',');
  const isDefault = endpoints === defaultEndpoints.join(',');
  const plural = (n: number, word: string): string => `${n} ${n === 1 ? word : word.endsWith('s') ? `${word}es` : `${word}s`}`;
  const what = [plural(masters.length, 'master'), ...(witnesses.length > 0 ? [plural(witnesses.length, 'witness')] : [])].join(' + ');
  const [a, b, c] = cluster.nodes.map((n) => n.id);
  return [
    '',
    `Concord is up: ${what} on loopback (data in ${options.dataDir})`,
    '',
    ...cluster.nodes.map((n) => `  ${n.id}  ${n.role.padEnd(7)}  ${n.address}  pid ${n.pid}  ${n.dataDir}`),
    ...(witnesses.length > 0
      ? ['', `${witnesses.map((n) => n.id).join(', ')}: a witness votes on kv/lease/counter operations (so they survive losing one master)`, '  but holds no documents: document commands go to the masters, status lists it with --endpoints ' + all]
      : []),
    '',
    ...adminTokenLines(admin, options.dataDir),
    '',
    ...(tls === undefined ? [] : [
      'Mutual TLS: every caller needs a certificate the CA signed; for the CLI:',
      `  export CONCORD_CACERT=${resolve(tls.caFile)} CONCORD_CERT=<client certificate> CONCORD_KEY=<its key>`,
      ...(options.authzFile === undefined ? [] : [`Access policy: ${resolve(options.authzFile)} (reloaded when it changes); who a node takes you for: npx concord whoami`]),
      '',
    ]),
    'Try next, in another terminal:',
    ...(isDefault ? [] : [`  export CONCORD_ENDPOINTS=${endpoints}`]),
    `  npx concord set demo/hello greeting.text '"hi"'`,
    `  npx concord get demo/hello --endpoints ${endpoints}`,
    `  npx concord add demo/hello stats.visits 1 --ack quorum`,
    `  npx concord watch demo/hello`,
    `  npx concord counter add wallet/alice 100 && npx concord counter add wallet/alice -- -30 --floor 0`,
    `  npx concord kv put cfg/x v1 && npx concord kv txn --if 'value(cfg/x) = "v1"' --then 'put cfg/x v2'`,
    `  npx concord status${witnesses.length > 0 ? ` --endpoints ${all}` : ''}`,
    // SetLinkFaults knows only document links, which a witness has none of: no partition demo then.
    ...(c !== undefined && witnesses.length === 0 ? [`  npx concord partition ${a} '|' ${b} ${c}      # then: npx concord heal; npx concord ledger`] : []),
    '',
    'Ctrl-C stops the cluster.',
    '',
  ];
}

/** Where the admin token is (never the token itself: the banner may end up in logs). */
function adminTokenLines(admin: ProvisionedAdminToken, dataDir: string): string[] {
  if (admin.source === 'flag' || admin.source === 'env') {
    const from = admin.source === 'flag' ? '--admin-token' : '$CONCORD_ADMIN_TOKEN';
    return [`Admin token (partition, heal, delay): from ${from}; give it to those commands with --admin-token or CONCORD_ADMIN_TOKEN`];
  }
  const state = admin.source === 'generated' ? 'new, mode 0600' : 'reused, mode 0600';
  const lines = [`Admin token (partition, heal, delay): ${admin.file} (${state})`];
  // The CLI finds the file by itself only in the default data dir, relative to where it runs.
  if (resolve(dataDir) !== resolve(defaultDataDir)) lines.push(`  for the CLI: export CONCORD_ADMIN_TOKEN=$(cat ${resolve(admin.file)})`);
  return lines;
}

/** Writes demo/hello so there is something to read; a failure is reported, not fatal. */
async function seedDemo(io: Io, cluster: LocalCluster, tls: TlsFiles | undefined): Promise<void> {
  // Only masters hold documents; a witness would refuse the write.
  const client = new ConcordClient({ endpoints: cluster.nodes.filter((n) => n.role === 'master').map((n) => n.address), tls });
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
