// Seeded simulation of transactions across shards: three shards, each the nodes' own KV state
// machine (MemoryKvClient), accounts spread over them, concurrent transfers (read both balances,
// then a transaction comparing them, sometimes a third one too, and writing both; those within
// one shard take the one-call path among the others' locks) whose coordinators crash at every
// step of two-phase commit, and whose calls fail before or after they apply, overtake each other
// or land late. Whatever happens, once the locks are settled (by reads, after their deadline)
// every transfer whose record says committed is applied exactly once and no other (the balances
// equal the start plus the committed transfers), a transfer its caller saw commit did, one it
// saw refused did not, and no write lock is left. A seed that fails prints itself.
import { kvOps } from '../../../clients/client/kvOps';
import type { KvClient } from '../../../clients/client/saga/SagaStore';
import { ShardMap } from '../../../clients/client/shard/ShardMap';
import { internalPrefix, ShardedKv, TransactionAbortedError } from '../../../clients/client/shard/ShardedKv';
import { makePrng } from '../../sim/prng';
import { MemoryKvClient } from '../saga/MemoryKvClient';

class Crash extends Error {}

test('transfers across shards keep every balance right through crashes and failed calls (seeded)', async () => {
  const seen = { committed: 0, oneShard: 0, crashed: 0, refused: 0, failedCalls: 0 };
  for (let seed = 1; seed <= 300; seed++) {
    const where = `seed ${seed} (replay: this test loops over seeds 1..300)`;
    const p = makePrng(seed);
    const clients = [new MemoryKvClient(), new MemoryKvClient(), new MemoryKvClient()];
    const map = new ShardMap([{ name: 'a', from: '', client: clients[0]! }, { name: 'b', from: 'acct/h', client: clients[1]! }, { name: 'c', from: 'acct/p', client: clients[2]! }]);
    let clock = 0;
    const sleep = async (ms: number): Promise<void> => {
      clock += ms;
      await new Promise((r) => setImmediate(r));
    };
    const setup = new ShardedKv(map, { now: () => clock, sleep, lockTtlMs: 100 });
    // Three accounts on shards a and b: a transfer there may compare a third account of its shard.
    const accounts = ['acct/a', 'acct/d', 'acct/f', 'acct/j', 'acct/k', 'acct/m', 'acct/q', 'acct/x'];
    for (const a of accounts) await setup.put(a, '100');
    const faultRate = p.pick([0, 0.02, 0.05]);
    const holdRate = p.pick([0, 0.01]);
    for (const c of clients) {
      c.turns = () => (p.chance(0.5) ? p.int(4) : 0); // calls overtake each other
      c.fault = () => {
        const x = p.next();
        if (x < faultRate / 2) return 'before';
        if (x < faultRate) return 'after';
        if (x < faultRate + holdRate) return 'hold';
        return undefined;
      };
    }
    const transfers: { id: number; from: string; to: string; amount: number; committed?: boolean; oneShard?: boolean; txns: string[] }[] = [];
    const one = async (id: number): Promise<void> => {
      const from = p.pick(accounts);
      const to = p.pick(accounts.filter((a) => a !== from));
      const amount = 1 + p.int(30);
      const crashAt = p.chance(0.25) ? p.pick(['prepared', 'decided', 'applied-one'] as const) : undefined;
      const t: (typeof transfers)[number] = { id, from, to, amount, txns: [] };
      const kv = new ShardedKv(map, { now: () => clock, sleep, lockTtlMs: 100, failpoint: (point) => {
        if (point === crashAt) throw new Crash(point);
      }, onTransaction: (txn) => t.txns.push(txn) });
      // Sometimes the transfer also requires a third account to be unchanged (a read lock).
      const witness = p.chance(0.3) ? p.pick(accounts.filter((a) => a !== from && a !== to)) : undefined;
      t.oneShard = new Set([from, to, ...(witness === undefined ? [] : [witness])].map((k) => map.shardOf(k))).size === 1;
      transfers.push(t);
      try {
        const a = Number(await kv.get(from));
        const b = Number(await kv.get(to));
        const w = witness === undefined ? undefined : await kv.get(witness);
        if (a < amount) return;
        t.committed = await kv.transaction({
          compares: [{ key: from, value: String(a) }, { key: to, value: String(b) }, ...(witness === undefined ? [] : [{ key: witness, value: w }])],
          puts: { [from]: String(a - amount), [to]: String(b + amount) },
        });
        if (!t.committed) seen.refused++;
      } catch (err) {
        if (err instanceof TransactionAbortedError) seen.refused++;
        else if (err instanceof Crash) seen.crashed++;
        else if ((err as { code?: number }).code !== undefined) seen.failedCalls++;
        else throw err;
        t.committed = undefined; // unknown to its caller: the records tell
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
    // The network heals, calls still in flight land; reads settle every lock left (after its deadline).
    for (const c of clients) {
      c.fault = () => undefined;
      c.turns = () => 0;
      c.deliverHeld();
    }
    clock += 1000;
    const balances = await Promise.all(accounts.map(async (a) => Number(await setup.get(a))));
    // Which transfers committed: the records on the shards (a transfer whose caller saw an error
    // may have committed too). Each applied once gives exactly these balances.
    const records = new Map<string, string>();
    for (const c of clients) for (const kv of (await c.kvRange(`${internalPrefix}txn/`, { prefix: true })).kvs) records.set(kv.key.slice(`${internalPrefix}txn/`.length), Buffer.from(kv.value).toString());
    const expected = new Map(accounts.map((a) => [a, 100]));
    for (const t of transfers) {
      const recorded = t.txns.filter((id) => records.get(id) === 'committed');
      expect([where, `transfer ${t.id}`, recorded.length <= 1]).toEqual([where, `transfer ${t.id}`, true]);
      // A transaction on one shard drops its record once it answered true; none that did is recorded aborted.
      const committed = t.committed === true ? [t.txns[0]] : recorded;
      if (t.committed === true) expect([where, `transfer ${t.id}`, t.txns.some((id) => records.get(id) === 'aborted')]).toEqual([where, `transfer ${t.id}`, false]);
      if (t.committed === true) expect([where, `transfer ${t.id}`, committed.length]).toEqual([where, `transfer ${t.id}`, 1]);
      if (t.committed === false) expect([where, `transfer ${t.id}`, committed.length]).toEqual([where, `transfer ${t.id}`, 0]);
      if (committed.length === 1) {
        expected.set(t.from, expected.get(t.from)! - t.amount);
        expected.set(t.to, expected.get(t.to)! + t.amount);
      }
    }
    expect([where, balances]).toEqual([where, accounts.map((a) => expected.get(a))]);
    expect([where, balances.every((b) => b >= 0)]).toEqual([where, true]);
    // No write lock is left once read through, nor a read lock past its deadline that a read met.
    for (const c of clients) {
      const left = (await c.kvRange(`${internalPrefix}lock/`, { prefix: true })).kvs.map((kv) => JSON.parse(Buffer.from(kv.value).toString()) as { op: string });
      expect([where, left.filter((l) => l.op !== 'read')]).toEqual([where, []]);
    }
    seen.committed += transfers.filter((t) => t.committed === true).length;
    seen.oneShard += transfers.filter((t) => t.committed === true && t.oneShard).length;
  }
  expect(seen.committed).toBeGreaterThan(100);
  expect(seen.oneShard).toBeGreaterThan(20); // transfers within one shard: one local transaction each
  expect(seen.crashed).toBeGreaterThan(50);
  expect(seen.refused).toBeGreaterThan(10);
  expect(seen.failedCalls).toBeGreaterThan(10);
}, 120_000);

test('the shard map routes keys and splits ranges at shard bounds', () => {
  const c = new MemoryKvClient();
  const map = new ShardMap([{ name: 'b', from: 'm', client: c }, { name: 'a', from: '', client: c }]);
  expect(['', 'a', 'l~', 'm', 'zz'].map((k) => map.shardOf(k).name)).toEqual(['a', 'a', 'a', 'b', 'b']);
  expect(map.shardsOf('c', 'x').map((x) => [x.shard.name, x.key, x.rangeEnd])).toEqual([['a', 'c', 'm'], ['b', 'm', 'x']]);
  expect(map.shardsOf('c', 'f').map((x) => [x.shard.name, x.key, x.rangeEnd])).toEqual([['a', 'c', 'f']]);
  expect(map.shardsOf('n', '\u0000').map((x) => [x.shard.name, x.key, x.rangeEnd])).toEqual([['b', 'n', '\u0000']]);
  expect(map.shardsOf('', '\u0000').map((x) => [x.shard.name, x.key, x.rangeEnd])).toEqual([['a', '', 'm'], ['b', 'm', '\u0000']]);
  expect(() => new ShardMap([{ name: 'a', from: 'x', client: c }])).toThrow('the first shard must start at ""');
  expect(() => new ShardMap([{ name: 'a', from: '', client: c }, { name: 'b', from: '', client: c }])).toThrow('both start at ""');
});

/**
 * Two shards (a: keys before "m", b: from "m") on a virtual clock, with k = "1" and x = "0";
 * `readLockK` leaves a read lock on k: a transaction comparing k to write x stops at its commit
 * point (its coordinator dies or pauses there), and returns that transaction's id.
 */
async function twoShardsWithK(shardA: KvClient = new MemoryKvClient()) {
  const map = new ShardMap([{ name: 'a', from: '', client: shardA }, { name: 'b', from: 'm', client: new MemoryKvClient() }]);
  const t = { clock: 0 };
  const sleep = async (ms: number): Promise<void> => {
    t.clock += ms;
    await new Promise((r) => setImmediate(r));
  };
  const kv = new ShardedKv(map, { now: () => t.clock, sleep, lockTtlMs: 100 });
  await kv.put('k', '1');
  await kv.put('x', '0');
  const readLockK = async (): Promise<string> => {
    let id = '';
    const stopping = new ShardedKv(map, { now: () => t.clock, sleep, lockTtlMs: 100, onTransaction: (txn) => (id = txn), failpoint: (point) => {
      if (point === 'prepared') throw new Error('coordinator stopped');
    } });
    await expect(stopping.transaction({ compares: [{ key: 'k', value: '1' }], puts: { x: '1' } })).rejects.toThrow('coordinator stopped');
    return id;
  };
  const lockOnK = async (): Promise<number> => (await map.byName('a').client.kvRange(`${internalPrefix}lock/k`)).kvs.length;
  return { map, kv, t, readLockK, lockOnK };
}

test('a transaction within one shard waits out another transaction\'s read lock on a key it writes, then aborts that one', async () => {
  const { map, kv, t, readLockK } = await twoShardsWithK();
  const first = await readLockK();
  // Writing k must wait for that lock's deadline (100 ms on), then abort it: its compare of k would no longer hold.
  expect(await kv.transaction({ compares: [{ key: 'k', value: '1' }], puts: { k: '2' } })).toBe(true);
  expect(t.clock).toBeGreaterThanOrEqual(100);
  expect(Buffer.from((await map.byName('b').client.kvRange(`${internalPrefix}txn/${first}`)).kvs[0]!.value).toString()).toBe('aborted');
  expect([await kv.get('k'), await kv.get('x')]).toEqual(['2', '0']);
});

test('a transaction within one shard that only compares a key another transaction read-locks does not wait for it', async () => {
  const { kv, t, readLockK, lockOnK } = await twoShardsWithK();
  await readLockK();
  expect(await lockOnK()).toBe(1);
  // Reading k while writing j on the same shard: no conflict with that read lock, no wait.
  expect(await kv.transaction({ compares: [{ key: 'k', value: '1' }], puts: { j: 'v' } })).toBe(true);
  expect(await kv.transaction({ compares: [{ key: 'k', value: '9' }], puts: { j: 'w' } })).toBe(false); // a compare that fails still fails
  expect(t.clock).toBe(0);
  expect(await lockOnK()).toBe(1); // the read lock stays, untouched
  expect([await kv.get('j'), await kv.get('k')]).toEqual(['v', '1']);
});

test('a shared read lock that goes before the call lands is no longer required: the call goes again, and its compare still decides', async () => {
  for (const change of [false, true]) {
    const a = new MemoryKvClient();
    // Shard a's client: once a call requires the shared read lock, the lock's transaction ends
    // just before it lands (and, the second time, k changes too).
    let ended = false;
    const racing: KvClient = {
      kvRange: (key, o) => a.kvRange(key, o),
      leaseGrant: (ttl) => a.leaseGrant(ttl),
      leaseKeepAlive: (id) => a.leaseKeepAlive(id),
      leaseRevoke: (id) => a.leaseRevoke(id),
      kvTxn: async (txn) => {
        const requiresLock = (txn.compare ?? []).some((c) => c.key === `${internalPrefix}lock/k` && c.targetUnion?.$case === 'value');
        if (requiresLock && !ended) {
          ended = true;
          await a.kvTxn({ compare: [], success: [kvOps.del(`${internalPrefix}lock/k`), ...(change ? [kvOps.put('k', '2')] : [])] });
        }
        return a.kvTxn(txn);
      },
    };
    const { kv, t, readLockK } = await twoShardsWithK(racing);
    await readLockK();
    expect([change, await kv.transaction({ compares: [{ key: 'k', value: '1' }], puts: { j: 'v' } })]).toEqual([change, !change]);
    expect([change, ended, t.clock < 100]).toEqual([change, true, true]);
    expect(await kv.get('j')).toBe(change ? undefined : 'v');
  }
});

test('a transaction within one shard whose call is held and delivered late takes no effect once it was answered aborted', async () => {
  const shard = new MemoryKvClient();
  const map = new ShardMap([{ name: 'a', from: '', client: shard }]);
  let clock = 0;
  const kv = new ShardedKv(map, { now: () => clock, sleep: async (ms) => {
    clock += ms;
    await new Promise((r) => setImmediate(r));
  } });
  await kv.put('k', 'first');
  // The next call is held (its caller sees it fail), and delivered after the caller moved on.
  let held = true;
  shard.fault = () => (held ? ((held = false), 'hold') : undefined);
  await expect(kv.put('k', 'late')).rejects.toBeInstanceOf(TransactionAbortedError);
  await kv.put('k', 'second');
  shard.deliverHeld();
  await new Promise((r) => setImmediate(r));
  expect(await kv.get('k')).toBe('second');
  // An answer lost after the call applied: the record says committed, so the caller hears true.
  let lost = true;
  shard.fault = () => (lost ? ((lost = false), 'after') : undefined);
  await kv.put('k', 'third');
  expect(await kv.get('k')).toBe('third');
  // Records of answered transactions are dropped (the lost answer's too, once the record told); the aborted one stays (a late copy must find it).
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  const records = (await shard.kvRange(`${internalPrefix}txn/`, { prefix: true })).kvs.map((r) => Buffer.from(r.value).toString());
  expect(records).toEqual(['aborted']);
});
