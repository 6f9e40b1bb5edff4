// Large values call for a snapshot before the entry count does: after 115 MB of 1 MB puts (far
// fewer entries than --raft-snapshot-entries; 64 MiB for the first voter, staggered up to 5/3
// of it for the last), every voter has snapshotted and compacted, so the log held in memory
// and replayed at restart stays bounded.
import { startTestCluster, TestCluster } from './startTestCluster';
import { kvStubs, KvStubs } from './kvStubs';
import { eventually } from './nodeStubs';

let tc: TestCluster;
let kv: KvStubs[];

beforeAll(async () => {
  tc = await startTestCluster(3);
  kv = tc.cluster.nodes.map((n) => kvStubs(n.address));
}, 60_000);

afterAll(async () => {
  kv?.forEach((k) => k.close());
  await tc?.stop();
});

test('64 MiB of entries (staggered per voter) trigger a snapshot on every voter however few they are', async () => {
  const st = await tc.stubs[0]!.status();
  const leader = tc.cluster.nodes.findIndex((n) => n.id === st.authority!.leaderId);
  const mb = 'b'.repeat(1_000_000);
  for (let i = 0; i < 115; i++) await kv[leader]!.put(`bytes/k${i % 5}`, `${i}${mb}`);
  await eventually('every voter snapshotted', async () => {
    const all = await Promise.all(tc.stubs.map((s) => s.status()));
    return all.every((s) => Number(s.authority!.snapshotIndex) > 0);
  }, 30_000);
  const all = await Promise.all(tc.stubs.map((s) => s.status()));
  // Well under the entry threshold: the bytes decided.
  expect(all.every((s) => Number(s.authority!.lastIndex) < 1000)).toBe(true);
}, 120_000);
