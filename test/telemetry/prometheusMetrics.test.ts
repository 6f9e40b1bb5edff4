// A node started with --metrics-port serves Prometheus text at /metrics with the metrics an
// operator watches: RPC latency by method and status, replication backlog and lag per peer,
// partition episodes and the updates taken while partitioned, consensus commit latency, term,
// leadership and leader changes. One real node whose only peer (a replica) never answers, so
// its backlog and lag grow, and which is the sole voter, so it commits on its own.
import { get } from 'node:http';
import { freeLoopbackPorts } from '../../clients/cli/freeLoopbackPorts';
import { kvStubs } from '../integration/kvStubs';
import { eventually } from '../integration/nodeStubs';
import { startTestCluster, testAdminToken, TestCluster } from '../integration/startTestCluster';
import { ops } from '../../clients/client/ops';

const set = ops.set;

let tc: TestCluster;
let metricsPort: number;

beforeAll(async () => {
  const [port, deadPeerPort] = await freeLoopbackPorts(2);
  metricsPort = port!;
  tc = await startTestCluster(1, ['--metrics-port', String(metricsPort), '--peers', `n2=127.0.0.1:${deadPeerPort}/replica`], {
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
    OTEL_TRACES_EXPORTER: undefined,
  }, 'leader');
}, 60_000);

afterAll(async () => {
  await tc?.stop();
});

function scrape(): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${metricsPort}/metrics`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

/** Value of the first sample named `name` whose labels include all of `labels`; undefined if none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const labelText = open >= 0 && open < line.indexOf(' ') ? line.slice(open + 1, line.lastIndexOf('}')) : '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('Prometheus /metrics: RPC latency, replication backlog and lag, partitions, consensus', async () => {
  const node = tc.stubs[0]!;
  for (let i = 0; i < 3; i++) await node.apply({ documentId: `metrics/doc-${i}`, operations: [set(['m', 'v'], i)] });
  await expect(node.get({ documentId: 'metrics/missing' })).rejects.toMatchObject({ code: 5 });
  await eventually('the sole voter leads', async () => (await node.status()).authority?.leaderId === 'n1');
  const kv = kvStubs(tc.cluster.nodes[0]!.address);
  try {
    await kv.put('metrics/a', '1');
    await kv.put('metrics/b', '2');
  } finally {
    kv.close();
  }
  await node.setLinkFaults([{ peerId: 'n2', cut: true, delayMs: 0 }], true, testAdminToken);
  for (let i = 0; i < 2; i++) await node.apply({ documentId: 'metrics/while-cut', operations: [set(['m', 'v'], i)] });

  const peer = { concord_peer_node_id: 'n2' };
  let text = '';
  await eventually('divergent updates counted', async () => {
    text = await scrape();
    return sample(text, 'concord_partition_divergent_updates_total', { ...peer, concord_update_origin: 'local' }) === 2;
  }, 10_000);

  expect(sample(text, 'target_info', { service_name: 'concord-node', service_instance_id: 'n1' })).toBe(1);
  expect(sample(text, 'rpc_server_call_duration_count', { rpc_method: 'Apply', rpc_service: 'concord.v1.DocumentService', rpc_grpc_status_code: '0' })).toBe(5);
  expect(sample(text, 'rpc_server_call_duration_count', { rpc_method: 'Get', rpc_grpc_status_code: '5' })).toBe(1);
  expect(sample(text, 'rpc_server_call_duration_bucket', { rpc_method: 'Apply', le: '+Inf' })).toBe(5);

  expect(sample(text, 'concord_replication_backlog_updates', peer)).toBe(5);
  expect(sample(text, 'concord_replication_backlog_bytes', peer)).toBeGreaterThan(0);
  expect(sample(text, 'concord_replication_lag', peer)).toBeGreaterThan(0);

  expect(sample(text, 'concord_partition_open', peer)).toBe(1);
  expect(sample(text, 'concord_partition_episodes_total', { ...peer, concord_partition_cause: 'injected' })).toBe(1);

  expect(sample(text, 'concord_consensus_commit_duration_count')).toBeGreaterThanOrEqual(2);
  expect(sample(text, 'concord_consensus_term')).toBeGreaterThanOrEqual(1);
  expect(sample(text, 'concord_consensus_is_leader')).toBe(1);
  expect(sample(text, 'concord_consensus_leader_changes_total')).toBeGreaterThanOrEqual(1);
}, 60_000);
