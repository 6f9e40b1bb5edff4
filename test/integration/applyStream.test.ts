// The streamed write path (DocumentService.ApplyStream and the client's DocumentWriter): many
// writes in flight on one stream, each answered alone; a bad write fails alone with the status a
// unary Apply would get; a broken stream fails the writes in flight as UNAVAILABLE and the next
// write goes to another node.
import { credentials, status } from '@grpc/grpc-js';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { ops } from '../../clients/client/ops';
import { isServiceError } from '../../clients/client/serviceError';
import { AckLevel, ApplyStreamResponse, DocumentServiceClient } from '../../proto/gen/concord/v1/documents';
import { eventually } from './nodeStubs';
import { startTestCluster, TestCluster } from './startTestCluster';
import { forEachLimit } from '../bench/forEachLimit';

let tc: TestCluster;
let client: ConcordClient;

beforeAll(async () => {
  tc = await startTestCluster(3);
  client = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address) });
}, 60_000);

afterAll(async () => {
  client?.close();
  await tc?.stop();
});

test('2,000 writes from 32 concurrent writers on one stream all land, on every node', async () => {
  const writer = client.writer();
  let peak = 0;
  try {
    await forEachLimit(32, 32, async (w) => {
      for (let i = 1; i <= 62; i++) {
        const p = writer.apply(`stream/d${w % 8}`, [ops.set(['m', `w${w}`], i)], { ack: i % 10 === 0 ? 'quorum' : 'local' });
        peak = Math.max(peak, writer.inflight);
        const res = await p;
        expect(res.version.length).toBeGreaterThan(0);
      }
    });
  } finally {
    await writer.close();
  }
  expect(peak).toBeGreaterThan(8);
  for (let d = 0; d < 8; d++) {
    const want = Object.fromEntries(Array.from({ length: 4 }, (_, k) => [`w${d + 8 * k}`, 62]));
    for (const s of tc.stubs) {
      await eventually(`stream/d${d} converged`, async () => isSame(JSON.parse((await s.get({ documentId: `stream/d${d}` })).json).m, want));
    }
  }
}, 60_000);

function isSame(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

test('a bad write fails alone, with the status a unary Apply gets; the stream goes on', async () => {
  const writer = client.writer();
  try {
    await writer.apply('stream/typed', [ops.set(['m', 'k'], 1)]);
    const results = await Promise.allSettled([
      writer.apply('stream/typed', [ops.set(['m', 'k'], 2)]),
      writer.apply('stream/typed', [ops.textInsert(['m'], 0, 'x')]), // m is a map, not text
      writer.apply('', [ops.set(['m', 'k'], 3)]), // no document id
      writer.apply('stream/typed', [ops.set(['m', 'j'], 4)]),
    ]);
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : isServiceError(r.reason) ? status[r.reason.code] : String(r.reason)));
    expect(codes).toEqual(['ok', 'FAILED_PRECONDITION', 'INVALID_ARGUMENT', 'ok']);
    // Read at the last write's version: the read may go to another node than the writer's.
    const last = results[3]?.status === 'fulfilled' ? results[3].value.version : undefined;
    expect((await client.get('stream/typed', { minVersion: last })).json).toBe('{"m":{"j":4,"k":2}}');
  } finally {
    await writer.close();
  }
});

test('a write id already in flight, or a request without a write, is refused on its own', async () => {
  const raw = new DocumentServiceClient(tc.cluster.nodes[0]!.address, credentials.createInsecure());
  try {
    const call = raw.applyStream();
    const got: ApplyStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (r: ApplyStreamResponse) => got.push(r));
      call.on('end', resolve);
      call.on('error', reject);
    });
    // Two writes with the same id at once (QUORUM keeps the first in flight while the second arrives).
    const apply = { documentId: 'stream/raw', operations: [ops.set(['m', 'k'], 1)], ack: AckLevel.ACK_LEVEL_QUORUM };
    call.write({ id: 7n, apply, timeoutMs: 0 });
    call.write({ id: 7n, apply, timeoutMs: 0 });
    call.write({ id: 8n, apply: undefined, timeoutMs: 0 });
    call.end();
    await done;
    const byId = got.map((r) => `${r.id}:${status[r.code]}`).sort();
    expect(byId).toEqual(['7:INVALID_ARGUMENT', '7:OK', '8:INVALID_ARGUMENT']);
  } finally {
    raw.close();
  }
});

test('when its node dies, writes in flight fail as UNAVAILABLE and the next write goes elsewhere', async () => {
  const writer = client.writer();
  try {
    const first = await writer.apply('stream/failover', [ops.set(['m', 'k'], 0)]);
    const inflight = Array.from({ length: 200 }, (_, i) => writer.apply('stream/failover', [ops.set(['m', `k${i}`], i)]));
    await tc.cluster.kill(first.nodeId);
    const settled = await Promise.allSettled(inflight);
    for (const r of settled) {
      if (r.status === 'rejected') expect(isServiceError(r.reason) && r.reason.code).toBe(status.UNAVAILABLE);
    }
    const next = await writer.apply('stream/failover', [ops.set(['m', 'after'], 1)]);
    expect(next.nodeId).not.toBe(first.nodeId);
  } finally {
    await writer.close();
  }
}, 30_000);
