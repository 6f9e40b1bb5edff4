// A voter that was down while the log moved past what the leader keeps catches up from the
// leader's snapshot of the KV state machine (binary, values stored once), over the voters'
// stream, and then serves the same data, history and revision as the others.
import { startTestCluster, TestCluster } from './startTestCluster';
import { kvStubs, KvStubs, text } from './kvStubs';
import { eventually } from './nodeStubs';
import { forEachLimit } from '../../clients/client/forEachLimit';

let tc: TestCluster;
let kv: KvStubs[];

beforeAll(async () => {
  tc = await startTestCluster(3, ['--raft-snapshot-entries', '50']);
  kv = tc.cluster.nodes.map((n) => kvStubs(n.address));
}, 60_000);

afterAll(async () => {
  kv?.forEach((k) => k.close());
  await tc?.stop();
});

test('voters take their first snapshot at staggered points, so they do not all encode at once', async () => {
  const st = await tc.stubs[0]!.status();
  const leader = tc.cluster.nodes.findIndex((n) => n.id === st.authority!.leaderId);
  // 60 puts: past the first voter's point (50 entries), short of the others' (66 and 83).
  for (let i = 0; i < 60; i++) await kv[leader]!.put(`stagger/k${i % 5}`, `v${i}`);
  const snapshotted = async (): Promise<string[]> => {
    const all = await Promise.all(tc.stubs.map((s) => s.status()));
    return all.filter((s) => Number(s.authority!.snapshotIndex) > 0).map((s) => s.nodeId).sort();
  };
  await eventually('the first voter snapshotted', async () => (await snapshotted()).length > 0, 10_000);
  expect(await snapshotted()).toEqual(['n1']);
  for (let i = 0; i < 40; i++) await kv[leader]!.put(`stagger/k${i % 5}`, `w${i}`);
  await eventually('every voter snapshotted', async () => (await snapshotted()).length === 3, 10_000);
});

test('a voter restarted behind the compacted log installs the snapshot and serves the same state', async () => {
  const st = await tc.stubs[0]!.status();
  const leaderId = st.authority!.leaderId;
  const leader = tc.cluster.nodes.findIndex((n) => n.id === leaderId);
  const follower = (leader + 1) % 3;
  const followerId = tc.cluster.nodes[follower]!.id;
  const behindAt = Number((await tc.stubs[follower]!.status()).authority!.lastIndex);
  await tc.cluster.kill(followerId);

  // 400 writes over 40 keys, a delete, a lease-bound key: history, tombstones and leases.
  await forEachLimit(400, 16, async (i) => {
    await kv[leader]!.put(`snap/k${i % 40}`, `v${i}`);
  });
  await kv[leader]!.txn({ compare: [], success: [{ request: { $case: 'requestDeleteRange', value: { key: 'snap/k0', rangeEnd: '', prevKv: false } } }], failure: [] });
  const lease = await kv[leader]!.leaseGrant(60_000);
  await kv[leader]!.put('snap/leased', 'x', lease.id);
  const lst = (await tc.stubs[leader]!.status()).authority!;
  // The follower's log ends before the leader's first entry: only a snapshot can catch it up.
  expect(Number(lst.firstIndex)).toBeGreaterThan(behindAt + 1);

  await tc.cluster.restart(followerId);
  const want = await kv[leader]!.get('snap/', { rangeEnd: 'snap0' });
  await eventually('the restarted voter applied everything', async () => {
    const fst = (await tc.stubs[follower]!.status()).authority!;
    return fst.revision === want.header!.revision;
  }, 20_000);
  const got = await kv[follower]!.get('snap/', { rangeEnd: 'snap0', serializable: true });
  expect(got.kvs.map((k) => [k.key, text(k.value), k.modRevision, k.version, k.lease])).toEqual(want.kvs.map((k) => [k.key, text(k.value), k.modRevision, k.version, k.lease]));
  expect(got.kvs.some((k) => k.key === 'snap/k0')).toBe(false);
  // History before the restart is readable there too (a value from a past revision).
  const past = Number(want.header!.revision) - 5;
  const pastLeader = await kv[leader]!.get('snap/', { rangeEnd: 'snap0', revision: BigInt(past) });
  const pastFollower = await kv[follower]!.get('snap/', { rangeEnd: 'snap0', revision: BigInt(past), serializable: true });
  expect(pastFollower.kvs.map((k) => text(k.value))).toEqual(pastLeader.kvs.map((k) => text(k.value)));
}, 90_000);

test('a snapshot larger than one message limit still catches a voter up', async () => {
  const st = await tc.stubs[0]!.status();
  const leaderId = st.authority!.leaderId;
  const leader = tc.cluster.nodes.findIndex((n) => n.id === leaderId);
  const follower = (leader + 2) % 3;
  const followerId = tc.cluster.nodes[follower]!.id;
  const behindAt = Number((await tc.stubs[follower]!.status()).authority!.lastIndex);
  await tc.cluster.kill(followerId);
  // 12 MB of values: the snapshot is larger than the 8 MiB a node accepts in one message.
  const mib = 'm'.repeat(1_000_000);
  for (let i = 0; i < 12; i++) await kv[leader]!.put(`big/k${i}`, `${i}${mib}`);
  await forEachLimit(120, 16, async (i) => {
    await kv[leader]!.put(`big/small${i % 10}`, `v${i}`);
  });
  // Snapshots are taken and stored in the background: the puts (synced by the log's own file)
  // can finish before the one that compacts past the stopped voter has.
  await eventually('the leader to compact its log past the stopped voter', async () => Number((await tc.stubs[leader]!.status()).authority!.firstIndex) > behindAt + 1, 30_000);
  await tc.cluster.restart(followerId);
  const want = await kv[leader]!.get('big/small', { rangeEnd: 'big/smalm' });
  await eventually('the restarted voter applied everything', async () => {
    const fst = (await tc.stubs[follower]!.status()).authority!;
    return fst.revision === want.header!.revision;
  }, 30_000);
  const got = await kv[follower]!.get('big/small', { rangeEnd: 'big/smalm', serializable: true });
  expect(got.kvs.map((k) => [k.key, text(k.value), k.modRevision])).toEqual(want.kvs.map((k) => [k.key, text(k.value), k.modRevision]));
  const big = await kv[follower]!.get('big/k7', { serializable: true });
  expect(text(big.kvs[0]!.value)).toBe(`7${mib}`);
}, 120_000);
