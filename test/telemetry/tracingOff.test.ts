// Tracing is off unless configured: a cluster started without an OTLP endpoint (but with other
// OTEL_* settings that do not turn tracing on by themselves) exports nothing and opens no
// connection except to its peers: a spy preloaded into every node process records each TCP
// connect, and listeners on the default OTLP ports (4317 gRPC, 4318 HTTP) see no one.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AckLevel } from '../../proto/gen/concord/v1/documents';
import { tracingDecision } from '../../services/telemetry/telemetryConfig';
import { kvStubs } from '../integration/kvStubs';
import { eventually } from '../integration/nodeStubs';
import { startTestCluster, TestCluster } from '../integration/startTestCluster';

test('the tracing decision: only an endpoint or an explicit traces exporter turns it on', () => {
  expect(tracingDecision({}).enabled).toBe(false);
  expect(tracingDecision({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'x' }).enabled).toBe(false);
  expect(tracingDecision({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).enabled).toBe(false);
  expect(tracingDecision({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4317' }).enabled).toBe(true);
  expect(tracingDecision({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' }).enabled).toBe(true);
  expect(tracingDecision({ OTEL_TRACES_EXPORTER: 'otlp' }).enabled).toBe(true);
  expect(tracingDecision({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4317' }).enabled).toBe(false);
  expect(tracingDecision({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4317' }).enabled).toBe(false);
});

/** A listener on a default OTLP port that counts whoever connects; undefined if the port is taken. */
async function tripwire(port: number): Promise<{ hits: () => number; close: () => Promise<void> } | undefined> {
  let hits = 0;
  const server = net.createServer((socket) => {
    hits++;
    socket.destroy();
  });
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!ok) {
    console.log(`port ${port} is in use here: its tripwire is skipped (the connection spy still runs)`);
    return undefined;
  }
  return { hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

let tc: TestCluster | undefined;
let dir: string;

afterAll(async () => {
  await tc?.stop();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

test('unconfigured: no exporter, no connection but to peers, nothing exported', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-tracing-off-'));
  const connectLog = path.join(dir, 'connects.log');
  fs.writeFileSync(connectLog, '');
  const wires = (await Promise.all([4317, 4318].map(tripwire))).filter((w) => w !== undefined);
  try {
    const spy = path.join(__dirname, 'fixtures', 'connectSpy.js');
    tc = await startTestCluster(3, [], {
      OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
      OTEL_TRACES_EXPORTER: undefined,
      OTEL_SDK_DISABLED: undefined,
      // Settings that would shape an exporter, were one created, but do not create one.
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'always_on',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      CONCORD_CONNECT_LOG: connectLog,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${spy}`.trim(),
    });
    const cluster = tc;
    await eventually('every peer link up', async () => (await Promise.all(cluster.stubs.map((s) => s.status()))).every((st) => st.peers.every((p) => p.reachable)));
    // Traffic that would be traced: an ALL write, a consensus write, anti-entropy rounds.
    await cluster.stubs[0]!.apply({ documentId: 'untraced/doc', operations: [{ op: { $case: 'mapSet', value: { path: ['m', 'v'], valueJson: '1' } } }], ack: AckLevel.ACK_LEVEL_ALL });
    await eventually('a leader', async () => (await cluster.stubs[0]!.status()).authority?.leaderId !== '');
    const kv = kvStubs(cluster.cluster.nodes[1]!.address);
    try {
      await kv.put('untraced/key', 'v');
    } finally {
      kv.close();
    }
    // Several batch-processor delays and anti-entropy periods.
    await new Promise((r) => setTimeout(r, 1500));

    const nodePorts = new Set(cluster.cluster.nodes.map((n) => n.address.split(':')[1]));
    const pids = new Set(cluster.cluster.nodes.map((n) => String(n.pid)));
    const connects = fs.readFileSync(connectLog, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]);
    expect(new Set(connects.map(([pid]) => pid))).toEqual(pids); // the spy ran in every node
    const elsewhere = connects.filter(([, target]) => {
      if (target.startsWith('unix:')) return false; // local IPC (tsx), not the network
      const [host, port] = [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)];
      return !(['127.0.0.1', 'localhost'].includes(host) && nodePorts.has(port));
    });
    expect(elsewhere).toEqual([]);
    for (const w of wires) expect(w.hits()).toBe(0);
    expect(cluster.logs.filter((l) => l.includes('tracing: on'))).toEqual([]);
  } finally {
    await Promise.all(wires.map((w) => w.close()));
  }
}, 60_000);
