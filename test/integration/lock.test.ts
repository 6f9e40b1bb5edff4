import { execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { acquireLock, LockTimeoutError, type HeldLock } from '../../clients/client/lock/acquireLock';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { eventually } from './nodeStubs';
import { startTestCluster, type TestCluster } from './startTestCluster';

// Distributed locks on three real nodes: contenders never overlap and are served in the order
// they came, with fencing tokens that grow with each holder; a wait that runs out leaves nothing
// behind; a holder whose lease ends learns it (lost) and the next one goes ahead; `concord lock`
// runs a command under the lock, and a CLI killed while holding it frees it once its TTL ends.

jest.setTimeout(90_000);

let tc: TestCluster;
let client: ConcordClient;
const cli = path.resolve(__dirname, '../../clients/cli/concord.js');

beforeAll(async () => {
  tc = await startTestCluster(3);
  client = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address), deadlineMs: 5000 });
});

afterAll(async () => {
  client?.close();
  await tc?.stop();
});

const keysOf = async (name: string): Promise<string[]> => (await client.kvRange(`locks/${name}/`, { prefix: true })).kvs.map((kv) => kv.key);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('contenders never overlap, are served in the order they came, and each later holder has a greater fencing token', async () => {
  await client.kvPut('guarded/counter', '0');
  let holding = 0;
  let overlaps = 0;
  const order: { who: number; token: bigint }[] = [];
  const contender = async (who: number): Promise<void> => {
    for (let round = 0; round < 3; round++) {
      const held = await acquireLock(client, 'counter', { ttlMs: 5000 });
      try {
        if (++holding > 1) overlaps++;
        order.push({ who, token: held.fencingToken });
        // Read, pause, write: an increment that two holders at once would lose.
        const now = Number(Buffer.from((await client.kvRange('guarded/counter')).kvs[0]!.value).toString());
        await sleep(10);
        await client.kvPut('guarded/counter', String(now + 1));
      } finally {
        holding--;
        await held.release();
      }
    }
  };
  await Promise.all(Array.from({ length: 5 }, (_, i) => contender(i)));
  expect(overlaps).toBe(0);
  expect(Buffer.from((await client.kvRange('guarded/counter')).kvs[0]!.value).toString()).toBe('15');
  for (let i = 1; i < order.length; i++) expect(order[i]!.token > order[i - 1]!.token).toBe(true);
  expect(await keysOf('counter')).toEqual([]);
});

test('waiters are served first come, first served', async () => {
  const first = await acquireLock(client, 'queue');
  const served: number[] = [];
  const waiters: Promise<void>[] = [];
  for (let i = 0; i < 4; i++) {
    waiters.push(acquireLock(client, 'queue').then(async (held) => {
      served.push(i);
      await held.release();
    }));
    // Each waiter's key is written before the next one starts.
    await eventually(`waiter ${i} queued`, async () => (await keysOf('queue')).length === i + 2);
  }
  await first.release();
  await Promise.all(waiters);
  expect(served).toEqual([0, 1, 2, 3]);
});

test('a wait that runs out throws LockTimeoutError and leaves no key; an aborted wait too', async () => {
  const held = await acquireLock(client, 'busy');
  try {
    const started = Date.now();
    await expect(acquireLock(client, 'busy', { waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(Date.now() - started).toBeLessThan(3000);
    const stop = new AbortController();
    const waiting = acquireLock(client, 'busy', { signal: stop.signal });
    await eventually('second waiter queued', async () => (await keysOf('busy')).length === 2);
    stop.abort(new Error('no longer needed'));
    await expect(waiting).rejects.toThrow('no longer needed');
    expect(await keysOf('busy')).toEqual([held.key]);
  } finally {
    await held.release();
  }
  expect(await keysOf('busy')).toEqual([]);
});

test('a holder whose lease ends is told (lost), and the next contender goes ahead with a greater token', async () => {
  const held: HeldLock = await acquireLock(client, 'fragile', { ttlMs: 1500 });
  const lost = new Promise<unknown>((resolve) => held.lost.addEventListener('abort', () => resolve(held.lost.reason), { once: true }));
  const next = acquireLock(client, 'fragile', { ttlMs: 1500 });
  await eventually('waiter queued', async () => (await keysOf('fragile')).length === 2);
  // The holder's lease ends behind its back (as it would if its renewals stopped reaching the cluster).
  await client.leaseRevoke(held.lease);
  const successor = await next;
  expect(successor.fencingToken > held.fencingToken).toBe(true);
  expect(String(await lost)).toMatch(/the lease of lock fragile ended/);
  await successor.release();
  await held.release(); // harmless after the loss
});

test('concord lock runs a command under the lock with its fencing token, passes its exit code on, and releases', async () => {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(',') };
  const run = await new Promise<{ code: number; stdout: string }>((done) => {
    execFile(process.execPath, [cli, 'lock', 'deploy', '--', process.execPath, '-e', 'console.log("token " + process.env.CONCORD_LOCK_FENCING_TOKEN); process.exit(3)'], { env, timeout: 30_000 }, (error, stdout) => done({ code: error === null ? 0 : Number(error.code), stdout }));
  });
  expect(run.code).toBe(3);
  const token = /fencing_token=(\d+)/.exec(run.stdout)?.[1];
  expect(token).toBeDefined();
  expect(run.stdout).toContain(`token ${token}`);
  expect(await keysOf('deploy')).toEqual([]);
});

test('a concord lock killed while it holds the lock frees it once its TTL ends', async () => {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(',') };
  const holder = spawn(process.execPath, [cli, 'lock', 'crashy', '--ttl', '1s'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually('the CLI holds the lock', async () => out.includes('locked crashy'), 20_000);
    const token = BigInt(/fencing_token=(\d+)/.exec(out)![1]!);
    holder.kill('SIGKILL');
    const started = Date.now();
    const next = await acquireLock(client, 'crashy', { waitMs: 10_000 });
    expect(Date.now() - started).toBeGreaterThan(300); // it waited for the lease to end
    expect(next.fencingToken > token).toBe(true);
    await next.release();
  } finally {
    holder.kill('SIGKILL');
  }
});
