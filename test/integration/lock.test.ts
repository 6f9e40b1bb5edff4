import { execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { status } from '@grpc/grpc-js';
import { acquireLock, LockTimeoutError, type HeldLock, type LockClient } from '../../clients/client/lock/acquireLock';
import { serviceError } from '../../clients/client/serviceError';
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
  // Told by the renewal (the node says the lease is gone) or by the watch on its key, whichever first.
  expect(String(await lost)).toMatch(/the lease of lock fragile ended|the key of lock fragile .* was deleted/);
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
    expect(holder.exitCode).toBe(null); // still running, holding
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

const exitOf = (p: ReturnType<typeof spawn>): Promise<number | null> => new Promise((resolve) => {
  if (p.exitCode !== null) resolve(p.exitCode);
  else p.once('exit', (code) => resolve(code));
});

test('concord lock without a command holds the lock past its TTL until Ctrl-C, then frees it at once', async () => {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(',') };
  const holder = spawn(process.execPath, [cli, 'lock', 'held', '--ttl', '1s'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await eventually('the CLI holds the lock', async () => out.includes('locked held'), 20_000);
    await sleep(2500); // more than two TTLs: it renews
    expect(holder.exitCode).toBe(null);
    await expect(acquireLock(client, 'held', { waitMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    holder.kill('SIGINT');
    expect(await exitOf(holder)).toBe(0);
    const started = Date.now();
    const next = await acquireLock(client, 'held', { waitMs: 5000 });
    expect(Date.now() - started).toBeLessThan(800); // released, not left to its TTL
    await next.release();
  } finally {
    holder.kill('SIGKILL');
  }
});

test('concord lock stops its command and exits with 4 when the lock is lost', async () => {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(',') };
  const holder = spawn(process.execPath, [cli, 'lock', 'lose', '--ttl', '2s', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    holder.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await eventually('the CLI holds the lock', async () => out.includes('locked lose'), 20_000);
    const lease = BigInt(`0x${/key=locks\/lose\/([0-9a-f]+)/.exec(out)![1]!}`);
    await client.leaseRevoke(lease);
    expect(await exitOf(holder)).toBe(4);
    expect(err).toMatch(/lock lose lost: (the lease of lock lose ended|the key of lock lose .* was deleted).*; stopping/);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('a holder whose renewals stop reaching the cluster is told at the end of its TTL, not later', async () => {
  let cutOff = false;
  const flaky: LockClient = {
    kvRange: client.kvRange.bind(client),
    kvPut: client.kvPut.bind(client),
    kvWatch: client.kvWatch.bind(client),
    leaseGrant: client.leaseGrant.bind(client),
    leaseRevoke: client.leaseRevoke.bind(client),
    leaseKeepAlive: (id, o) => (cutOff ? Promise.reject(serviceError(status.UNAVAILABLE, 'no node reachable (injected)')) : client.leaseKeepAlive(id, o)),
  };
  const started = Date.now();
  const held = await acquireLock(flaky, 'clock', { ttlMs: 1500 });
  cutOff = true;
  await new Promise((resolve) => held.lost.addEventListener('abort', resolve, { once: true }));
  const at = Date.now() - started;
  expect(at).toBeGreaterThanOrEqual(1400);
  expect(at).toBeLessThan(1800);
  expect(String(held.lost.reason)).toMatch(/no renewal reached the cluster within its TTL/);
  cutOff = false;
  await held.release();
});

test('a holder whose key is deleted by hand is told at once (lost), though its lease lives on', async () => {
  // Renewals every 10 s keep the lease alive: only the watch on the key can tell.
  const held = await acquireLock(client, 'handmade', { ttlMs: 30_000 });
  const next = acquireLock(client, 'handmade', { ttlMs: 30_000 });
  await eventually('waiter queued', async () => (await keysOf('handmade')).length === 2);
  const started = Date.now();
  // Listening before the delete: its event can reach the holder before its answer reaches us.
  const told = lostWithin(held, 5000);
  await client.kvDelete(held.key);
  await told;
  expect(held.lost.aborted).toBe(true);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(String(held.lost.reason)).toMatch(/the key of lock handmade \(locks\/handmade\/[0-9a-f]+\) was deleted \(by hand, or its lease was revoked or ended\)/);
  const successor = await next;
  expect(successor.fencingToken > held.fencingToken).toBe(true);
  await successor.release();
  await held.release(); // its lease was still alive: revoked now
  expect(await keysOf('handmade')).toEqual([]);
});

test('release rejects when the lease cannot be revoked, and the lock then ends with its TTL', async () => {
  let revokes = 0;
  const stuck: LockClient = {
    kvRange: client.kvRange.bind(client),
    kvPut: client.kvPut.bind(client),
    kvWatch: client.kvWatch.bind(client),
    leaseGrant: client.leaseGrant.bind(client),
    leaseKeepAlive: client.leaseKeepAlive.bind(client),
    leaseRevoke: () => {
      revokes++;
      return Promise.reject(serviceError(status.UNAVAILABLE, 'no node reachable (injected)'));
    },
  };
  const held = await acquireLock(stuck, 'unrevoked', { ttlMs: 3000 });
  await expect(held.release()).rejects.toThrow(/lock unrevoked: its lease may not have been revoked \(no node reachable \(injected\)\); the lock frees itself when the lease ends, within 3000 ms/);
  expect(revokes).toBe(3); // tried again: a revoke that failed on its way may have been applied
  await expect(held.release()).rejects.toThrow(/may not have been revoked/); // the same answer twice
  expect(revokes).toBe(3);
  expect(held.lost.aborted).toBe(false); // given up, not lost
  const next = await acquireLock(client, 'unrevoked', { waitMs: 10_000 });
  expect(next.fencingToken > held.fencingToken).toBe(true);
  await next.release();
});

test('a holder is told when its key is written over without its lease, or, without the watch, when a renewal finds the lease gone', async () => {
  const held = await acquireLock(client, 'overwritten', { ttlMs: 30_000 });
  const told = lostWithin(held, 5000);
  await client.kvPut(held.key, 'by hand');
  await told;
  expect(String(held.lost.reason)).toMatch(/the key of lock overwritten .* was written over without its lease/);
  await held.release();
  await client.kvDelete(held.key);
  // With a watch that never reports, the renewal alone must tell that the lease is gone.
  const blind: LockClient = {
    kvRange: client.kvRange.bind(client),
    kvPut: client.kvPut.bind(client),
    // The only contender waits for no one: its one watch is the one on its own key.
    kvWatch: (key, o) => {
      watchedOwn.add(key);
      return silent(o?.signal);
    },
    leaseGrant: client.leaseGrant.bind(client),
    leaseKeepAlive: client.leaseKeepAlive.bind(client),
    leaseRevoke: client.leaseRevoke.bind(client),
  };
  const watchedOwn = new Set<string>();
  // Renewals every 1.5 s, each a leadership check: well within the TTL on a loaded machine.
  const lonely = await acquireLock(blind, 'blind', { ttlMs: 4500 });
  expect(watchedOwn.has(lonely.key)).toBe(true);
  const toldLonely = lostWithin(lonely, 5000);
  await client.leaseRevoke(lonely.lease);
  await toldLonely;
  expect(String(lonely.lost.reason)).toMatch(/the lease of lock blind ended/);
  await lonely.release();
});

/** Resolves once `held` is lost (at once if it is already), or after `ms` (the test then fails on what it checks). */
function lostWithin(held: HeldLock, ms: number): Promise<unknown> {
  if (held.lost.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    held.lost.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(undefined);
    }, { once: true });
  });
}

/** A watch that reports nothing until it is aborted. */
async function* silent(signal: AbortSignal | undefined): AsyncGenerator<never, void, undefined> {
  await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
}

test('a key written by hand under a lock without a lease contends for nothing: the lock is still acquired', async () => {
  await client.kvPut('locks/manual/by-hand', 'someone');
  const held = await acquireLock(client, 'manual', { waitMs: 3000 });
  await held.release();
  expect(await keysOf('manual')).toEqual(['locks/manual/by-hand']);
  await client.kvDelete('locks/manual/by-hand');
});
