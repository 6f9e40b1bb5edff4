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
  const mb = 'b'.repeat(1_000_000);
  // As a client would: to the leader, and after a failure again to the leader then (a loaded
  // machine may miss a heartbeat while 1 MB entries are written; a put is safe to repeat here).
  const leader = async (): Promise<number> => {
    const st = await tc.stubs[0]!.status();
    return tc.cluster.nodes.findIndex((n) => n.id === st.authority!.leaderId);
  };
  for (let i = 0; i < 115; i++) {
    await eventually(`put ${i}`, async () => {
      const at = await leader();
      if (at < 0) return false;
      await kv[at]!.put(`bytes/k${i % 5}`, `${i}${mb}`);
      return true;
    }, 30_000);
  }
  await eventually('every voter snapshotted', async () => {
    const all = await Promise.all(tc.stubs.map((s) => s.status()));
    return all.every((s) => Number(s.authority!.snapshotIndex) > 0);
  }, 30_000);
  const all = await Promise.all(tc.stubs.map((s) => s.status()));
  // Well under the entry threshold: the bytes decided.
  expect(all.every((s) => Number(s.authority!.lastIndex) < 1000)).toBe(true);
}, 120_000);
