import { ConcordClient } from '../../clients/client/ConcordClient';
import { ShardMap } from '../../clients/client/shard/ShardMap';
import { internalPrefix, ShardedKv } from '../../clients/client/shard/ShardedKv';
import { eventually } from './nodeStubs';
import { startTestCluster, type TestCluster } from './startTestCluster';

// Keys sharded by range over two real Concord clusters (each its own voters and log; one node
// each here, to keep the suite light on two cores): routing, ranges across the bound, and
// two-phase commit of transfers between accounts on both shards, including a coordinator that
// dies after the commit point (its locks rolled forward by the next reader) and one that dies
// before it (rolled back once old).

jest.setTimeout(60_000);

let shards: TestCluster[] = [];
let clients: ConcordClient[] = [];
let map: ShardMap;

beforeAll(async () => {
  shards = await Promise.all([startTestCluster(1), startTestCluster(1)]);
  clients = shards.map((s) => new ConcordClient({ endpoints: s.cluster.nodes.map((n) => n.address), deadlineMs: 5000 }));
  map = new ShardMap([{ name: 'low', from: '', client: clients[0]! }, { name: 'high', from: 'acct/m', client: clients[1]! }]);
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all(shards.map((s) => s.stop()));
});

const onShard = async (i: number, key: string): Promise<string | undefined> => {
  const kv = (await clients[i]!.kvRange(key)).kvs[0];
  return kv === undefined ? undefined : Buffer.from(kv.value).toString();
};

test('keys live on the shard their range names; a range spans both; a transfer across them commits on both or neither', async () => {
  const kv = new ShardedKv(map);
  await kv.put('acct/alice', '100');
  await kv.put('acct/zoe', '5');
  expect([await onShard(0, 'acct/alice'), await onShard(1, 'acct/alice')]).toEqual(['100', undefined]);
  expect([await onShard(0, 'acct/zoe'), await onShard(1, 'acct/zoe')]).toEqual([undefined, '5']);
  expect(await kv.range('acct/', 'acct0')).toEqual([{ key: 'acct/alice', value: '100' }, { key: 'acct/zoe', value: '5' }]);
  // Read both, then a transaction comparing them: commits on both shards.
  expect(await kv.transaction({ compares: [{ key: 'acct/alice', value: '100' }, { key: 'acct/zoe', value: '5' }], puts: { 'acct/alice': '70', 'acct/zoe': '35' } })).toBe(true);
  expect([await onShard(0, 'acct/alice'), await onShard(1, 'acct/zoe')]).toEqual(['70', '35']);
  // A stale compare on one shard: nothing changes on either.
  expect(await kv.transaction({ compares: [{ key: 'acct/alice', value: '100' }], puts: { 'acct/alice': '0', 'acct/zoe': '135' } })).toBe(false);
  expect([await kv.get('acct/alice'), await kv.get('acct/zoe')]).toEqual(['70', '35']);
  // No lock, no record left in the way of anyone.
  expect((await clients[1]!.kvRange(`${internalPrefix}lock/`, { prefix: true })).kvs).toEqual([]);
});

test('a coordinator that dies after the commit point: the next reader rolls its writes forward on every shard', async () => {
  const kv = new ShardedKv(map);
  await kv.put('acct/bob', '50');
  await kv.put('acct/yan', '0');
  const dying = new ShardedKv(map, { failpoint: (p) => {
    if (p === 'decided') throw new Error('coordinator died');
  } });
  await expect(dying.transaction({ puts: { 'acct/bob': '20', 'acct/yan': '30' } })).rejects.toThrow('coordinator died');
  // Locks stand on both shards until someone reads: the record on the primary says committed.
  expect((await clients[1]!.kvRange(`${internalPrefix}lock/`, { prefix: true })).kvs).toHaveLength(1);
  expect([await kv.get('acct/yan'), await kv.get('acct/bob')]).toEqual(['30', '20']);
  expect([await onShard(0, 'acct/bob'), await onShard(1, 'acct/yan')]).toEqual(['20', '30']);
});

test('a coordinator that dies before the commit point: its locks are rolled back once older than the TTL', async () => {
  await new ShardedKv(map).put('acct/cat', '10');
  const dying = new ShardedKv(map, { lockTtlMs: 300, failpoint: (p) => {
    if (p === 'prepared') throw new Error('coordinator died');
  } });
  await expect(dying.transaction({ puts: { 'acct/cat': '0', 'acct/xia': '10' } })).rejects.toThrow('coordinator died');
  // The locks carry their writer's deadline: a reader waits for it, whatever its own TTL.
  const reader = new ShardedKv(map);
  const started = Date.now();
  expect([await reader.get('acct/cat'), await reader.get('acct/xia')]).toEqual(['10', undefined]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250); // it waited for the lock to age
  expect(await onShard(0, `${internalPrefix}lock/acct/cat`)).toBeUndefined();
});

test('a transaction within one shard is one call there, after settling a lock in its way; its record goes once it answered', async () => {
  const kv = new ShardedKv(map);
  // A transaction across both shards whose coordinator dies after the commit point leaves a lock on acct/fay.
  const dying = new ShardedKv(map, { failpoint: (p) => {
    if (p === 'decided') throw new Error('coordinator died');
  } });
  await expect(dying.transaction({ puts: { 'acct/fay': '1', 'acct/yul': '2' } })).rejects.toThrow('coordinator died');
  const txns: string[] = [];
  const fast = new ShardedKv(map, { onTransaction: (id) => txns.push(id) });
  const calls = jest.spyOn(clients[0]!, 'kvTxn');
  try {
    // Its compare holds only once the lock in its way is rolled forward.
    expect(await fast.transaction({ compares: [{ key: 'acct/fay', value: '1' }, { key: 'acct/gil', value: undefined }], puts: { 'acct/fay': '0', 'acct/gil': '1' } })).toBe(true);
    const settled = calls.mock.calls.length;
    expect(await fast.transaction({ compares: [{ key: 'acct/gil', value: '1' }], puts: { 'acct/gil': '2' }, deletes: ['acct/fay'] })).toBe(true);
    // One call for the transaction; once it answered, one more drops its record.
    expect(calls.mock.calls.length - settled).toBe(2);
    expect(calls.mock.calls[settled + 1]![0]).toMatchObject({ success: [{ request: { $case: 'requestDeleteRange' } }] });
    expect(await fast.transaction({ compares: [{ key: 'acct/gil', value: '1' }], puts: { 'acct/gil': '3' } })).toBe(false);
  } finally {
    calls.mockRestore();
  }
  expect([await kv.get('acct/fay'), await kv.get('acct/gil'), await kv.get('acct/yul')]).toEqual([undefined, '2', '2']);
  // The records' drops, which nobody waits for.
  await eventually('records dropped', async () => (await Promise.all(txns.map((id) => onShard(0, `${internalPrefix}txn/${id}`)))).every((r) => r === undefined), 5000);
  expect((await clients[0]!.kvRange(`${internalPrefix}lock/`, { prefix: true })).kvs).toEqual([]);
});
