import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serviceNames } from '../telemetry/names';
import { startTelemetry } from '../telemetry/startTelemetry';
import { parsePeers } from '../node/NodeConfig';
import { parseAllowedHosts } from './hostAllowed';
import { quietIpServerNameWarning } from '../node/quietIpServerNameWarning';
import { readServing, readTls, tlsFilesFrom } from '../../clients/client/tlsFiles';

// Only node built-ins and the telemetry bootstrap are imported statically: the gateway (and with
// it @grpc/grpc-js) loads after telemetry has started, so its calls to the nodes are traced
// (service concord-gateway) when the OTEL_* variables configure tracing.
//
// Process entry for a gateway on its own (next to `npm start`, or in a container):
//   node --import tsx services/gateway/main.ts --nodes n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 \
//     --port 8080 --admin-token-file .concord/data/admin-token
// The admin token comes from --admin-token-file, else $CONCORD_ADMIN_TOKEN, else the file
// `npm start` (concord up) writes, .concord/data/admin-token; without one the panel's cut/heal
// buttons are refused by the nodes (everything else works). Without --static-dir the app is
// built first into clients/mobile/dist. --allowed-hosts (or $CONCORD_ALLOWED_HOSTS) lists the
// names besides IP addresses and localhost it may be called by (a LAN name, a tunnel's name).
// --tls-cert, --tls-key and --tls-ca dial nodes started with the same flags (mutual TLS);
// --https-cert and --https-key serve phones and browsers over HTTPS.

const defaultNodes = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';
const upTokenFile = '.concord/data/admin-token';

async function main(): Promise<void> {
  quietIpServerNameWarning();
  const telemetry = await startTelemetry({ serviceName: serviceNames.gateway });
  const { buildMobileApp } = await import('../../clients/mobile/buildMobileApp');
  const { startGateway } = await import('./startGateway');
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: defaultNodes },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'admin-token-file': { type: 'string' },
      'static-dir': { type: 'string' },
      'jaeger-url': { type: 'string', default: process.env.CONCORD_JAEGER_URL ?? '' },
      // Names (besides IP addresses and localhost) phones and browsers may call it by, e.g. laptop.local.
      'allowed-hosts': { type: 'string', default: process.env.CONCORD_ALLOWED_HOSTS ?? '' },
      // Mutual TLS to nodes started with --tls-*: a certificate the nodes' CA signed, its key, and that CA.
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      // HTTPS for phones and browsers: a certificate naming the gateway's address, and its key.
      'https-cert': { type: 'string' },
      'https-key': { type: 'string' },
    },
  });
  // The nodes' own --peers syntax: id=host:port[/role].
  const nodes = parsePeers(values.nodes ?? defaultNodes);
  const tls = tlsFilesFrom({ cert: values['tls-cert'], key: values['tls-key'], ca: values['tls-ca'] }, { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' });
  if (tls !== undefined) readTls(tls);
  const httpsCert = values['https-cert'];
  const httpsKey = values['https-key'];
  if ((httpsCert === undefined) !== (httpsKey === undefined)) throw new Error('HTTPS needs --https-cert and --https-key together');
  const https = httpsCert !== undefined && httpsKey !== undefined ? { certFile: httpsCert, keyFile: httpsKey } : undefined;
  if (https !== undefined) readServing(https);
  const file = values['admin-token-file'] ?? (process.env.CONCORD_ADMIN_TOKEN ? undefined : existsSync(upTokenFile) ? upTokenFile : undefined);
  const adminToken = file !== undefined ? readFileSync(file, 'utf8').trim() : process.env.CONCORD_ADMIN_TOKEN || undefined;
  const staticDir = values['static-dir'] ?? (await buildMobileApp());
  const gateway = await startGateway({
    nodes,
    port: Number(values.port),
    host: values.host,
    adminToken,
    staticDir,
    jaegerUrl: values['jaeger-url'],
    allowedHosts: parseAllowedHosts(values['allowed-hosts']),
    tls,
    https,
  });
  console.log(`gateway on ${gateway.url} -> ${nodes.map((n) => `${n.id}=${n.address}`).join(', ')}`);
  console.log(`demo: ${gateway.url}   phone app: ${gateway.url}app/?user=ann`);
  if (adminToken === undefined) console.log('no admin token: the demo panel cannot cut or heal links');
  if (tls !== undefined && !['127.0.0.1', '::1', 'localhost'].includes(values.host ?? '')) {
    const edge = https === undefined ? 'plain HTTP' : 'HTTPS without client certificates';
    console.log(`warning: the gateway serves ${edge} on ${values.host} and calls the nodes with its own certificate: whoever reaches it gets the cluster's documents and KV (and its admin calls if it holds the token) without one`);
  }
  const stop = (): void => void gateway.close().then(() => telemetry.shutdown()).then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`gateway: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
