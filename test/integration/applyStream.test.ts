// The streamed write path (DocumentService.ApplyBatches and the client's DocumentWriter): many
// writes in flight on one stream, each answered alone; a bad write fails alone with the status a
// unary Apply would get; a broken stream fails the writes in flight as UNAVAILABLE and the next
// write goes to another node.
import { credentials, status } from '@grpc/grpc-js';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { ops } from '../../clients/client/ops';
import { isServiceError } from '../../clients/client/serviceError';
import { AckLevel, ApplyStreamResponse, ApplyStreamResults, DocumentServiceClient } from '../../proto/gen/concord/v1/documents';
import { eventually } from './nodeStubs';
import { startTestCluster, TestCluster } from './startTestCluster';
import { forEachLimit } from '../../clients/client/forEachLimit';

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
  const sampler = setInterval(() => {
    peak = Math.max(peak, writer.inflight);
  }, 1);
  try {
    await forEachLimit(32, 32, async (w) => {
      for (let i = 1; i <= 62; i++) {
        const res = await writer.apply(`stream/d${w % 8}`, [ops.set(['m', `w${w}`], i)], { ack: i % 10 === 0 ? 'quorum' : 'local' });
        expect(res.version.length).toBeGreaterThan(0);
      }
    });
  } finally {
    clearInterval(sampler);
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
    const call = raw.applyBatches();
    const got: ApplyStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (r: ApplyStreamResults) => got.push(...r.results));
      call.on('end', resolve);
      call.on('error', reject);
    });
    // Two writes with the same id in one message (the first is in flight when the second is
    // taken); an empty message is no write at all.
    const apply = { documentId: 'stream/raw', operations: [ops.set(['m', 'k'], 1)], ack: AckLevel.ACK_LEVEL_QUORUM };
    call.write({ writes: [{ id: 7n, apply, timeoutMs: 0 }, { id: 7n, apply, timeoutMs: 0 }, { id: 9n, apply, timeoutMs: 0 }] });
    call.write({ writes: [] });
    call.write({ writes: [{ id: 8n, apply: undefined, timeoutMs: 0 }] });
    call.end();
    await done;
    const byId = got.map((r) => `${r.id}:${status[r.code]}`).sort();
    expect(byId).toEqual(['7:INVALID_ARGUMENT', '7:OK', '8:INVALID_ARGUMENT', '9:OK']);
  } finally {
    raw.close();
  }
});

test('writes issued together travel together, and so do their answers', async () => {
  const writer = client.writer();
  try {
    await writer.apply('stream/packed', [ops.set(['m', 'first'], 0)]);
    const before = writer.traffic;
    await Promise.all(Array.from({ length: 100 }, (_, i) => writer.apply(`stream/packed${i % 10}`, [ops.set(['m', `k${i}`], i)])));
    const after = writer.traffic;
    expect(after.writesSent - before.writesSent).toBe(100);
    expect(after.messagesSent - before.messagesSent).toBe(1);
    expect(after.answersReceived - before.answersReceived).toBe(100);
    expect(after.messagesReceived - before.messagesReceived).toBeLessThan(50);
  } finally {
    await writer.close();
  }
});

test('large writes issued together are split to stay far below the request limit, and all land', async () => {
  const writer = client.writer();
  try {
    const before = writer.traffic;
    const big = 'x'.repeat(400_000);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => writer.apply(`stream/big${i}`, [ops.textInsert(['t'], 0, big)])));
    expect(results).toHaveLength(6);
    const after = writer.traffic;
    expect(after.writesSent - before.writesSent).toBe(6);
    expect(after.messagesSent - before.messagesSent).toBeGreaterThanOrEqual(3); // about 1 MiB per message
  } finally {
    await writer.close();
  }
});

test('a batch past the in-flight cap fails its extra writes alone with RESOURCE_EXHAUSTED', async () => {
  const raw = new DocumentServiceClient(tc.cluster.nodes[1]!.address, credentials.createInsecure());
  try {
    const call = raw.applyBatches();
    const got: ApplyStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (r: ApplyStreamResults) => got.push(...r.results));
      call.on('end', resolve);
      call.on('error', reject);
    });
    const writes = Array.from({ length: 2048 + 10 }, (_, i) => ({
      id: BigInt(i + 1),
      apply: { documentId: `stream/cap${i % 16}`, operations: [ops.set(['m', `k${i}`], i)], ack: AckLevel.ACK_LEVEL_LOCAL },
      timeoutMs: 0,
    }));
    call.write({ writes });
    call.end();
    await done;
    expect(got).toHaveLength(writes.length);
    const codes = new Map<string, number>();
    for (const r of got) codes.set(status[r.code] as string, (codes.get(status[r.code] as string) ?? 0) + 1);
    expect(Object.fromEntries(codes)).toEqual({ OK: 2048, RESOURCE_EXHAUSTED: 10 });
  } finally {
    raw.close();
  }
}, 30_000);
