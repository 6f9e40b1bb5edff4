// The authoritative log lives apart from the documents, in <data dir>/raft: snapshots in an LMDB
// environment of its own, entries and hard state in a write-ahead file (raft/wal). A data
// directory from before (the whole log in the documents' store) is moved on start:
// real voters restarted on that layout come back with their KV data, history and revision, keep
// writing, and leave nothing of the log behind in the documents' store.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asNodeId, Entry } from '../../services/core/consensus';
import { DurableRaftStorage, earlierLayoutOps } from '../../services/node/authority/DurableRaftStorage';
import { raftLogMovedKey, raftLogPrefix } from '../../services/node/authority/moveRaftLog';
import { LmdbEngine } from '../../services/storage/LmdbEngine';
import { prefixEnd } from '../../services/storage/StorageEngine';
import { kvStubs, KvStubs, text } from './kvStubs';
import { eventually } from './nodeStubs';
import { startTestCluster, TestCluster } from './startTestCluster';

let tc: TestCluster;
let kv: KvStubs[];

afterAll(async () => {
  kv?.forEach((k) => k.close());
  await tc?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(tc.logs.slice(-40).join('\n'));
});

const logRange = { gte: raftLogPrefix, lt: prefixEnd(raftLogPrefix) };

async function leaderIndex(): Promise<number> {
  let leader = -1;
  await eventually('one leader agreed on by every voter', async () => {
    const all = await Promise.all(tc.stubs.map((s) => s.status()));
    const id = all[0]?.authority?.leaderId ?? '';
    leader = tc.cluster.nodes.findIndex((n) => n.id === id);
    return id !== '' && all.every((st) => st.authority?.leaderId === id);
  }, 30_000);
  return leader;
}

test('voters restarted on a data directory with the log in the documents\' store move it to its own and serve the same state', async () => {
  tc = await startTestCluster(3, ['--raft-snapshot-entries', '50']);
  kv = tc.cluster.nodes.map((n) => kvStubs(n.address));
  let leader = await leaderIndex();
  // Past the snapshot point (snapshot chunks in the log's store too), with history and a delete.
  for (let i = 0; i < 120; i++) await kv[leader]!.put(`move/k${i % 30}`, `v${i}`);
  await kv[leader]!.txn({ compare: [], success: [{ request: { $case: 'requestDeleteRange', value: { key: 'move/k0', rangeEnd: '', prevKv: false } } }], failure: [] });
  const before = await kv[leader]!.get('move/', { rangeEnd: 'move0' });
  const history = await kv[leader]!.get('move/k1', { revision: before.header!.revision - 5n });
  await eventually('every voter applied everything', async () => {
    const all = await Promise.all(kv.map((k) => k.get('move/', { rangeEnd: 'move0', serializable: true })));
    return all.every((r) => r.header!.revision === before.header!.revision);
  }, 10_000);
  await tc.cluster.stop();

  // The layout of the version before: every record of the log in the documents' store.
  for (const node of tc.cluster.nodes) {
    const raftDir = path.join(node.dataDir, 'raft');
    const raft = LmdbEngine.open(raftDir);
    const main = LmdbEngine.open(node.dataDir);
    const records = [...raft.range(logRange)];
    expect(records.some((r) => r.key.startsWith('r:snapdata:'))).toBe(true);
    // That version kept the entries and hard state in the store too (now in the write-ahead file).
    const log = new DurableRaftStorage(raft, path.join(raftDir, 'wal'), { voters: [asNodeId('n1')], learners: [] });
    const read = log.entries(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
    if (!read.ok) throw new Error(`the log's entries are ${read.reason}`);
    const entries: readonly Entry[] = read.entries;
    const hardState = log.initialState();
    log.stop();
    expect(entries.length).toBeGreaterThan(0);
    await main.write([
      ...records.map(({ key, value }) => ({ type: 'put' as const, key, value })),
      ...earlierLayoutOps(entries, hardState),
    ]);
    await Promise.all([raft.close(), main.close()]);
    fs.rmSync(raftDir, { recursive: true, force: true });
  }

  for (const node of tc.cluster.nodes) await tc.cluster.restart(node.id);
  leader = await leaderIndex();
  for (const k of kv) {
    await eventually('a restarted voter serves what it had', async () => {
      const got = await k.get('move/', { rangeEnd: 'move0', serializable: true });
      return got.header!.revision === before.header!.revision;
    }, 10_000);
    const got = await k.get('move/', { rangeEnd: 'move0', serializable: true });
    expect(got.kvs.map((x) => [x.key, text(x.value), x.modRevision])).toEqual(before.kvs.map((x) => [x.key, text(x.value), x.modRevision]));
  }
  const past = await kv[leader]!.get('move/k1', { revision: before.header!.revision - 5n });
  expect(past.kvs.map((x) => text(x.value))).toEqual(history.kvs.map((x) => text(x.value)));
  const put = await kv[leader]!.put('move/after', 'yes');
  expect(put.header!.revision).toBe(before.header!.revision + 1n);
  expect(tc.logs.filter((l) => l.includes('moved the authoritative log'))).toHaveLength(3);

  await tc.cluster.stop();
  for (const node of tc.cluster.nodes) {
    const main = LmdbEngine.open(node.dataDir);
    const raft = LmdbEngine.open(path.join(node.dataDir, 'raft'));
    expect([node.id, [...main.range(logRange)].length]).toEqual([node.id, 0]);
    expect([node.id, raft.get(raftLogMovedKey) !== undefined, [...raft.range(logRange)].length > 0]).toEqual([node.id, true, true]);
    // The moved entries and hard state went on into the write-ahead file, and out of the store.
    expect([node.id, [...raft.range({ gte: 'r:e:', lt: 'r:e;' })].length, raft.get('r:hs')]).toEqual([node.id, 0, undefined]);
    await Promise.all([raft.close(), main.close()]);
  }
}, 120_000);
