// The KV quota on three real voters (`--kv-quota-bytes`, etcd's --quota-backend-bytes): puts that
// would grow the store past it are refused with RESOURCE_EXHAUSTED, through the leader or a
// follower that forwards, and so are lease grants; a full store still serves reads, deletes,
// lease keep-alives and revokes, and compaction, and
// once compaction has dropped the deleted history, puts go through again. Status reports the
// store's size against the quota on every voter. A node refuses a quota that is not a positive
// integer.
import { status } from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { kvStubs, KvStubs } from './kvStubs';
import { codeOf, eventually } from './nodeStubs';
import { startTestCluster, TestCluster } from './startTestCluster';

const quota = 256 << 10;
const value = 'q'.repeat(4096);
let tc: TestCluster;
let kv: KvStubs[];

beforeAll(async () => {
  tc = await startTestCluster(3, ['--kv-quota-bytes', String(quota)]);
  kv = tc.cluster.nodes.map((n) => kvStubs(n.address));
}, 60_000);

afterAll(async () => {
  kv?.forEach((k) => k.close());
  await tc?.stop();
});

const leaderIndex = async (): Promise<number> => {
  const leader = (await tc.stubs[0]!.status()).authority?.leaderId;
  const i = tc.cluster.nodes.findIndex((n) => n.id === leader);
  if (i < 0) throw new Error(`no leader known (${leader})`);
  return i;
};

test('a full store refuses what grows it, serves the rest, and takes puts again once compacted', async () => {
  const leader = await leaderIndex();
  const follower = kv[(leader + 1) % 3]!;
  const lease = (await kv[leader]!.leaseGrant(60_000)).id;
  // Through a follower: it forwards to the leader, which refuses before proposing.
  let stored = 0;
  let refusal: { code: number; details: string } | undefined;
  for (let i = 0; i < 200 && refusal === undefined; i++) {
    const r = await codeOf(follower.put(`q/${i}`, value));
    if (r.code === status.OK) stored++;
    else refusal = r;
  }
  expect(refusal?.code).toBe(status.RESOURCE_EXHAUSTED);
  expect(refusal?.details).toMatch(/^the KV store holds \d+ bytes \(with the writes in flight\) and this would add \d+, past its quota of 262144 \(--kv-quota-bytes\); it was not applied\. To make room, delete keys, then compact their history \(concord kv compact \d+\)/);
  // Each 4 KiB put counts its key, its value and the version's bookkeeping.
  expect(stored).toBeGreaterThan(45);
  expect(stored).toBeLessThan(60);
  await eventually('every voter to apply the same store', async () => {
    const all = await Promise.all(tc.stubs.map((s) => s.status()));
    return all.every((st) => st.authority?.kvBytes === all[0]!.authority?.kvBytes && st.authority?.revision === all[0]!.authority?.revision);
  });
  const full = (await tc.stubs[leader]!.status()).authority!;
  expect(full.kvQuotaBytes).toBe(BigInt(quota));
  expect(full.kvBytes).toBeLessThanOrEqual(BigInt(quota));
  expect(Number(full.kvBytes)).toBeGreaterThan(quota - 5000);
  // The leader refuses too; a transaction refuses by its larger branch.
  expect((await codeOf(kv[leader]!.put('q/more', value))).code).toBe(status.RESOURCE_EXHAUSTED);
  const bigTxn = kv[leader]!.txn({ compare: [], success: [], failure: [{ request: { $case: 'requestPut', value: { key: 'q/txn', value: Buffer.from(value), lease: 0n, prevKv: false } } }] });
  expect((await codeOf(bigTxn)).code).toBe(status.RESOURCE_EXHAUSTED);
  // Lease grants count too (256 bytes each): the room left takes a few, then none.
  const granted: bigint[] = [];
  let leaseRefusal: { code: number; details: string } | undefined;
  while (leaseRefusal === undefined && granted.length < 40) {
    const r = await codeOf(kv[leader]!.leaseGrant(60_000).then((g) => granted.push(g.id)));
    if (r.code !== status.OK) leaseRefusal = r;
  }
  expect(leaseRefusal?.code).toBe(status.RESOURCE_EXHAUSTED);
  expect(leaseRefusal?.details).toMatch(/or revoke unused leases; reads, deletes, compaction, lease keep-alives and revokes still work$/);
  // One at a time, nothing in flight: exactly the room left at 256 bytes a lease.
  expect(granted.length).toBe(Math.floor((quota - Number(full.kvBytes)) / 256));
  // Reads, keep-alives, revokes and deletes go through a full store.
  expect((await kv[leader]!.get('q/0')).kvs[0]?.value.length).toBe(4096);
  await kv[leader]!.leaseKeepAlive(lease);
  for (const id of [lease, ...granted]) await kv[leader]!.leaseRevoke(id);
  const deleted = await kv[leader]!.txn({ compare: [], success: [{ request: { $case: 'requestDeleteRange', value: { key: 'q/', rangeEnd: 'q0', prevKv: false } } }], failure: [] });
  expect(deleted.responses[0]?.response?.$case === 'responseDeleteRange' && deleted.responses[0].response.value.deleted).toBe(BigInt(stored));
  // The deleted versions are history until compaction drops them: still full.
  expect((await codeOf(kv[leader]!.put('q/after-delete', value))).code).toBe(status.RESOURCE_EXHAUSTED);
  await kv[leader]!.compact({ revision: deleted.header!.revision });
  await eventually('compaction to free the store', async () => Number((await tc.stubs[leader]!.status()).authority?.kvBytes) < 10_000);
  expect((await codeOf(kv[leader]!.put('q/after-compact', value))).code).toBe(status.OK);
}, 60_000);

test('writers at once cannot take the store past its quota: the leader counts the writes in flight', async () => {
  const leader = await leaderIndex();
  const before = Number((await tc.stubs[leader]!.status()).authority!.kvBytes);
  // 100 puts of 8 KiB sent together: they reach the leader in a few turns, before any applies.
  const big = 'w'.repeat(8192);
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => codeOf(kv[leader]!.put(`w/${i}`, big))));
  const ok = results.filter((r) => r.code === status.OK).length;
  expect(results.every((r) => r.code === status.OK || r.code === status.RESOURCE_EXHAUSTED)).toBe(true);
  const room = Math.floor((quota - before) / (8192 + 'w/00'.length + 384));
  expect(ok).toBeGreaterThan(room - 3);
  expect(ok).toBeLessThanOrEqual(room);
  await eventually('every voter to apply them', async () => (await Promise.all(tc.stubs.map((s) => s.status()))).every((st) => Number(st.authority?.kvBytes) === before + ok * (8192 + 384) + results.reduce((n, r, i) => n + (r.code === status.OK ? `w/${i}`.length : 0), 0)));
  for (const s of tc.stubs) expect(Number((await s.status()).authority!.kvBytes)).toBeLessThanOrEqual(quota);
}, 60_000);

test('a node refuses a quota that is not a positive integer', () => {
  const main = path.resolve(__dirname, '../../services/node/main.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, '--id', 'x', '--data-dir', path.join(tc.dir, 'bad-quota'), '--kv-quota-bytes', '2GiB'], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status).not.toBe(0);
  expect(`${r.stdout}${r.stderr}`).toMatch(/--kv-quota-bytes must be a positive integer, not 2GiB/);
}, 40_000);
