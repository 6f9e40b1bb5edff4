// A read replica beside three masters (the "slave" of master-slave replication): it receives
// every master's writes and serves reads, including reads that wait for a version a master
// acknowledged; it refuses writes with FAILED_PRECONDITION naming the masters; it never counts
// towards QUORUM or ALL (checked with a master cut off from the others but not from it); it is
// not a voter of the authoritative log (its KV API refuses with FAILED_PRECONDITION naming the
// voters); and after a restart it catches up on what it missed.
import { status } from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeLoopbackPorts } from '../../clients/cli/freeLoopbackPorts';
import { NodeProcess } from '../../clients/cli/NodeProcess';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { ops } from '../../clients/client/ops';
import { AckLevel } from '../../proto/gen/concord/v1/documents';
import { kvStubs, text } from './kvStubs';
import { codeOf, eventually, NodeStubs, nodeStubs } from './nodeStubs';
import { testAdminToken } from './startTestCluster';

const roles = [['m1', 'master'], ['m2', 'master'], ['m3', 'master'], ['r', 'replica']] as const;
const set = ops.set;
let dir: string;
let procs: NodeProcess[];
let stubs: NodeStubs[];
let replica: NodeStubs;
let addresses: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-replica-'));
  addresses = (await freeLoopbackPorts(roles.length)).map((p) => `127.0.0.1:${p}`);
  procs = roles.map(([id, role], i) => {
    const peers = roles.map(([pid, prole], j) => (j === i ? '' : `${pid}=${addresses[j]}/${prole}`)).filter((x) => x !== '').join(',');
    return new NodeProcess({
      id,
      entry: path.resolve(__dirname, '..', '..', 'services/node/main.ts'),
      args: ['--id', id, '--role', role, '--listen', addresses[i]!, '--peers', peers, '--data-dir', path.join(dir, id), '--heartbeat-interval-ms', '200', '--anti-entropy-interval-ms', '500'],
      cwd: path.resolve(__dirname, '..', '..'),
      env: { ...process.env, CONCORD_ADMIN_TOKEN: testAdminToken },
      readyTimeoutMs: 30_000,
    }, () => undefined);
  });
  await Promise.all(procs.map((p) => p.start()));
  stubs = addresses.map((a) => nodeStubs(a));
  replica = stubs[3]!;
  await eventually('every link up and a leader among the masters', async () => {
    const all = await Promise.all(stubs.map((s) => s.status()));
    const leader = all[0]?.authority?.leaderId ?? '';
    return leader !== '' && all.slice(0, 3).every((st) => st.authority?.leaderId === leader) && all.every((st) => st.peers.every((p) => p.reachable));
  }, 30_000);
}, 90_000);

afterAll(async () => {
  stubs?.forEach((s) => s.close());
  await Promise.all((procs ?? []).map((p) => p.stop(5000)));
  fs.rmSync(dir, { recursive: true, force: true });
});

const json = async (s: NodeStubs, doc: string): Promise<unknown> => JSON.parse((await s.get({ documentId: doc })).json);

test("every master's writes reach the replica, which serves them", async () => {
  await stubs[0]!.apply({ documentId: 'rep/a', operations: [set(['m', 'from1'], 1)], ack: AckLevel.ACK_LEVEL_LOCAL });
  await stubs[1]!.apply({ documentId: 'rep/a', operations: [set(['m', 'from2'], 2)], ack: AckLevel.ACK_LEVEL_LOCAL });
  await stubs[2]!.apply({ documentId: 'rep/b', operations: [set(['m', 'from3'], 3)], ack: AckLevel.ACK_LEVEL_LOCAL });
  await eventually('the replica to hold all three writes', async () =>
    JSON.stringify(await json(replica, 'rep/a')) === '{"m":{"from1":1,"from2":2}}' && JSON.stringify(await json(replica, 'rep/b')) === '{"m":{"from3":3}}', 10_000);
  expect((await replica.list({ prefix: 'rep/', limit: 10 })).documents.map((d) => d.documentId)).toEqual(['rep/a', 'rep/b']);
});

test('a read on the replica with the version a master acknowledged returns that write', async () => {
  for (let i = 0; i < 5; i++) {
    const res = await stubs[i % 3]!.apply({ documentId: 'rep/ryw', operations: [set(['m', 'k'], i)], ack: AckLevel.ACK_LEVEL_LOCAL });
    const got = await replica.get({ documentId: 'rep/ryw', minVersion: res.version });
    expect(JSON.parse(got.json)).toEqual({ m: { k: i } });
  }
});

test('the replica refuses writes with FAILED_PRECONDITION naming the masters', async () => {
  const r = await codeOf(replica.apply({ documentId: 'rep/a', operations: [set(['m', 'x'], 1)] }));
  expect(r.code).toBe(status.FAILED_PRECONDITION);
  expect(r.details).toMatch(/node r is a replica/);
  expect(r.details).toMatch(/m1, m2, m3/);
  expect(r.metadata?.get('concord-masters')).toEqual(['m1,m2,m3']);
  expect(r.metadata?.get('concord-not-applied')).toEqual(['true']);
  const u = await codeOf(replica.pushUpdate({ documentId: 'rep/a', update: new Uint8Array([0, 0]) }));
  expect(u.code).toBe(status.FAILED_PRECONDITION);
  expect(JSON.stringify(await json(replica, 'rep/a'))).toBe('{"m":{"from1":1,"from2":2}}');
});

test('a client given the replica among its endpoints sends every write on to a master, streamed ones too', async () => {
  const client = new ConcordClient({ endpoints: [addresses[3]!, addresses[0]!] });
  try {
    for (let i = 0; i < 4; i++) {
      // The replica refuses the first write for its role; the client then sends writes to the master first.
      expect((await client.apply('rep/client', [set(['m', `k${i}`], i)])).nodeId).toBe('m1');
      await client.kvPut(`rep/client/${i}`, `v${i}`);
    }
    expect(Object.keys(((await json(stubs[0]!, 'rep/client')) as { m: object }).m)).toHaveLength(4);
    // The streamed writer too: its stream to the replica is refused write by write (not
    // applied), retired, and the writes go to a stream to the master.
    const writer = client.writer();
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.apply('rep/writer', [set(['m', `k${i}`], i)])));
      expect(new Set(answers.map((a) => a.nodeId))).toEqual(new Set(['m1']));
      expect(writer.inflight).toBe(0);
    } finally {
      await writer.close();
    }
    expect(Object.keys(((await json(stubs[0]!, 'rep/writer')) as { m: object }).m)).toHaveLength(20);
    // Closed while its writes are still moving off the replica: close() waits for them all.
    const closing = client.writer();
    const writes = Array.from({ length: 10 }, (_, i) => closing.apply('rep/closing', [set(['m', `k${i}`], i)]));
    await closing.close();
    expect(closing.inflight).toBe(0);
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value.nodeId : String(o.reason)))).toEqual(Array.from({ length: 10 }, () => 'm1'));
    const kv = kvStubs(addresses[0]!);
    try {
      expect((await kv.get('rep/client/', { rangeEnd: 'rep/client0' })).kvs.map((k) => text(k.value))).toEqual(['v0', 'v1', 'v2', 'v3']);
    } finally {
      kv.close();
    }
  } finally {
    client.close();
  }
});

test('a client that lists the replica first watches KV keys on a voter', async () => {
  const kv = kvStubs(addresses[0]!);
  const client = new ConcordClient({ endpoints: [addresses[3]!, addresses[0]!] });
  const abort = new AbortController();
  try {
    const from = ((await kv.put('rep/watched', 'v0')).header?.revision ?? 0n) + 1n;
    // From a given revision, so the watch is the client's first call: the replica refuses it.
    const events = client.kvWatch('rep/watched', { startRevision: from, signal: abort.signal });
    const first = events.next();
    await kv.put('rep/watched', 'v1');
    expect(text((await first).value?.events[0]?.kv?.value)).toBe('v1');
  } finally {
    abort.abort();
    client.close();
    kv.close();
  }
});

test('QUORUM and ALL count masters only; the replica is not a voter', async () => {
  const all = await stubs[0]!.apply({ documentId: 'rep/all', operations: [set(['m', 'k'], 1)], ack: AckLevel.ACK_LEVEL_ALL });
  expect(all.ackedBy).toBe(3);
  const st = await stubs[0]!.status();
  expect(st.authority?.voters.map((v) => v.nodeId).sort()).toEqual(['m1', 'm2', 'm3']);
  expect((await replica.status()).authority).toBeUndefined();
  // Its KV API says why and where to go, for unary calls and the watch stream alike.
  const onReplica = kvStubs(addresses[3]!);
  try {
    const put = await codeOf(onReplica.put('rep/key', 'v'));
    expect(put.code).toBe(status.FAILED_PRECONDITION);
    expect(put.details).toMatch(/node r is a replica: .*not a voter.*send KV requests to a voter \(m1, m2, m3\)/);
    expect(put.metadata?.get('concord-voters')).toEqual(['m1,m2,m3']);
    const watch = onReplica.client.watch({ key: 'rep/key', rangeEnd: '', startRevision: 0n, prevKv: false });
    const watchError = await new Promise<{ code: number }>((resolve) => watch.on('error', resolve));
    expect(watchError.code).toBe(status.FAILED_PRECONDITION);
  } finally {
    onReplica.close();
  }
  // The authoritative path runs on the masters alone.
  const kv = kvStubs(addresses[0]!);
  try {
    await kv.put('rep/key', 'v');
    expect(text((await kv.get('rep/key')).kvs[0]?.value)).toBe('v');
  } finally {
    kv.close();
  }
  // m1 cut off from the other masters but not from the replica: the replica's ack does not
  // make a QUORUM (two of three masters).
  await stubs[0]!.setLinkFaults([{ peerId: 'm2', cut: true, delayMs: 0 }, { peerId: 'm3', cut: true, delayMs: 0 }], true);
  try {
    const quorum = await codeOf(stubs[0]!.apply({ documentId: 'rep/quorum', operations: [set(['m', 'k'], 1)], ack: AckLevel.ACK_LEVEL_QUORUM }, 5000));
    expect(quorum.code).toBe(status.UNAVAILABLE);
    expect(quorum.details).toMatch(/durable on 1 of 3 masters; QUORUM needs 2/);
    await eventually('the replica to hold the write all the same', async () => JSON.stringify(await json(replica, 'rep/quorum')) === '{"m":{"k":1}}', 10_000);
  } finally {
    await stubs[0]!.setLinkFaults([], true);
    await eventually('m1 linked again', async () => (await stubs[0]!.status()).peers.every((p) => p.reachable), 10_000);
  }
});

test('a replica that was down catches up on what it missed', async () => {
  await procs[3]!.stop(5000);
  for (let i = 0; i < 20; i++) await stubs[i % 3]!.apply({ documentId: `rep/missed${i % 4}`, operations: [set(['m', `k${i}`], i)], ack: AckLevel.ACK_LEVEL_ALL });
  await procs[3]!.start();
  replica.close();
  replica = nodeStubs(addresses[3]!);
  stubs[3] = replica;
  await eventually('the replica to hold every write it missed', async () => {
    for (let d = 0; d < 4; d++) {
      const m = ((await json(replica, `rep/missed${d}`)) as { m?: Record<string, number> }).m ?? {};
      if (Object.keys(m).length !== 5) return false;
    }
    return true;
  }, 15_000);
});
