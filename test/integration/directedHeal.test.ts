// After a split, each node knows which documents it owes each peer (the changes it dropped from
// the push queue), and names them in the hello it answers a reconnecting peer with. When both
// ends know their lists are complete, the round after the heal syncs exactly those documents
// instead of comparing digests. A node that restarts does not know what its earlier life left
// undelivered: its first round with each peer compares digests. Real node processes, real gRPC.
import { ops } from '../../clients/client/ops';
import { eventually, NodeStubs } from './nodeStubs';
import { healAllLinks, isolateNode } from './isolateNode';
import { startTestCluster, TestCluster } from './startTestCluster';

let tc: TestCluster;

beforeAll(async () => {
  tc = await startTestCluster(3);
}, 60_000);

afterAll(async () => {
  await tc?.stop();
});

/** n1 cut off from n2 and n3, or every link healed. */
const isolate = (cut: boolean): Promise<void> => (cut ? isolateNode(tc, 0) : healAllLinks(tc));

/** Every link of every node knows its owed list completely (a full round with each peer ran). */
async function allComplete(): Promise<boolean> {
  const all = await Promise.all(tc.stubs.map((s) => s.status()));
  return all.every((st) => st.peers.every((p) => p.owedComplete && p.connected));
}

async function directedRounds(): Promise<number[]> {
  const all = await Promise.all(tc.stubs.map((s) => s.status()));
  return all.map((st) => Number(st.traffic?.antiEntropyDirectedRounds ?? 0n));
}

async function json(s: NodeStubs, docId: string): Promise<string> {
  const got = await s.get({ documentId: docId });
  const m = (JSON.parse(got.json) as { m?: Record<string, unknown> }).m ?? {};
  return JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Splits n1 from n2 and n3, writes on both sides (well past what a reconnect re-sends), heals. */
async function splitWriteHeal(tag: string): Promise<string[]> {
  const [n1, n2] = tc.stubs as [NodeStubs, NodeStubs];
  await isolate(true);
  const docs = Array.from({ length: 12 }, (_, d) => `directed/${tag}/d${d}`);
  await Promise.all(docs.map(async (doc, d) => {
    for (let i = 0; i < 10; i++) {
      // n1's side writes every document; n2's side the even ones only.
      await n1.apply({ documentId: doc, operations: [ops.set(['m', `a${i}`], i)] });
      if (d % 2 === 0) await n2.apply({ documentId: doc, operations: [ops.set(['m', `b${i}`], i)] });
    }
  }));
  await isolate(false);
  await eventually('every node to hold both sides of every document', async () => {
    for (const doc of docs) {
      const views = await Promise.all(tc.stubs.map((s) => json(s, doc)));
      if (views.some((v) => v !== views[0])) return false;
    }
    return true;
  }, 20_000);
  return docs;
}

test('the heal syncs the owed documents named by both ends, with no digest descent', async () => {
  await eventually('every link to know its owed list', allComplete, 20_000);
  const before = await directedRounds();
  const docs = await splitWriteHeal('first');
  // n1 healed with n2 and n3 (one directed round each); n2 and n3 with n1.
  await eventually('the heal rounds to be directed', async () => {
    const after = await directedRounds();
    return (after[0] ?? 0) - (before[0] ?? 0) >= 2 && (after[1] ?? 0) > (before[1] ?? 0) && (after[2] ?? 0) > (before[2] ?? 0);
  }, 20_000);
  // Nothing is owed any more, and the lists are still complete.
  await eventually('the owed lists to empty', async () => {
    const all = await Promise.all(tc.stubs.map((s) => s.status()));
    return all.every((st) => st.peers.every((p) => p.owedDocuments === 0n && p.owedComplete));
  }, 20_000);
  const n3 = tc.stubs[2] as NodeStubs;
  const sample = JSON.parse(await json(n3, docs[0] as string)) as [string, unknown][];
  expect(sample.map(([k]) => k).sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)].sort());
}, 60_000);

test('a restarted node compares digests first, then heals directed again', async () => {
  const n3 = tc.cluster.nodes[2];
  if (n3 === undefined) throw new Error('no n3');
  await tc.cluster.restart(n3.id);
  const st = await (tc.stubs[2] as NodeStubs).status();
  // Its first rounds (on connect) compared digests: it cannot know what it owed before.
  expect(st.traffic?.antiEntropyDirectedRounds).toBe(0n);
  await eventually('every link to know its owed list again', allComplete, 20_000);
  expect((await (tc.stubs[2] as NodeStubs).status()).traffic?.antiEntropyDirectedRounds).toBe(0n);
  const before = await directedRounds();
  await splitWriteHeal('second');
  await eventually('the restarted node to heal directed', async () => (await directedRounds())[2]! > before[2]!, 20_000);
}, 90_000);
