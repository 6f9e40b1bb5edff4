// Partitions injected through the admin API at the peer transport: both sides keep taking LOCAL
// writes, QUORUM/ALL fail clearly on the side that cannot reach enough masters, the heal
// converges every node, and the partition ledger records the episode with its numbers.
import { status } from '@grpc/grpc-js';
import { AckLevel } from '../../proto/gen/concord/v1/documents';
import { codeOf, eventually } from './nodeStubs';
import { healAllLinks, isolateNode } from './isolateNode';
import { startTestCluster, TestCluster } from './startTestCluster';
import { ops } from '../../clients/client/ops';

const set = ops.set;
const add = ops.counterAdd;

let tc: TestCluster;

beforeAll(async () => {
  tc = await startTestCluster(3);
}, 60_000);

afterAll(async () => {
  await tc?.stop();
});

const isolate = (idx: number): Promise<void> => isolateNode(tc, idx);
const healAll = (): Promise<void> => healAllLinks(tc);

test('fault injection needs the admin credential', async () => {
  const r = await codeOf(tc.stubs[0]!.setLinkFaults([{ peerId: 'n2', cut: true, delayMs: 0 }], true, 'wrong'));
  expect(r.code).toBe(status.UNAUTHENTICATED);
  expect((await codeOf(tc.stubs[0]!.setLinkFaults([], true, ''))).code).toBe(status.UNAUTHENTICATED);
  expect((await codeOf(tc.stubs[0]!.setLinkFaults([{ peerId: 'nope', cut: true, delayMs: 0 }], true))).code).toBe(status.NOT_FOUND);
  expect((await tc.stubs[0]!.status()).peers.every((p) => !p.cut)).toBe(true);
});

test('split-brain: both sides write, the minority cannot reach QUORUM, the heal converges', async () => {
  const [a, b, c] = tc.stubs;
  await a!.apply({ documentId: 'split/doc', operations: [set(['m', 'start'], true)], ack: AckLevel.ACK_LEVEL_ALL });
  await isolate(0);
  await eventually('n1 sees both peers unreachable', async () => (await a!.status()).peers.every((p) => !p.reachable));

  // LOCAL writes succeed on every side.
  for (let i = 0; i < 10; i++) {
    await a!.apply({ documentId: 'split/doc', operations: [set(['m', `a${i}`], i), add(['c'], 1)] });
    await b!.apply({ documentId: 'split/doc', operations: [set(['m', `b${i}`], i), add(['c'], 10)] });
    await c!.apply({ documentId: `split/other-${i}`, operations: [set(['m', 'v'], i)] });
  }
  // QUORUM on the minority fails fast with UNAVAILABLE naming what it reaches; ALL too.
  const started = Date.now();
  const q = await codeOf(a!.apply({ documentId: 'split/doc', operations: [set(['m', 'q'], 1)], ack: AckLevel.ACK_LEVEL_QUORUM }, 5000));
  expect(q.code).toBe(status.UNAVAILABLE);
  expect(q.details).toMatch(/only 1 are reachable \(n1\)/);
  expect(Date.now() - started).toBeLessThan(1500); // well before the 5 s deadline
  // The majority side reaches QUORUM but not ALL.
  expect((await b!.apply({ documentId: 'split/doc', operations: [set(['m', 'bq'], 1)], ack: AckLevel.ACK_LEVEL_QUORUM })).ackedBy).toBe(2);
  expect((await codeOf(b!.apply({ documentId: 'split/doc', operations: [set(['m', 'ball'], 1)], ack: AckLevel.ACK_LEVEL_ALL }, 5000))).code).toBe(status.UNAVAILABLE);
  // The minority really does not have the majority's writes.
  expect(JSON.parse((await a!.get({ documentId: 'split/doc' })).json).m.b0).toBeUndefined();

  await healAll();
  const ms = await eventually('converged after heal', async () => {
    const all = await Promise.all(tc.stubs.map((s) => s.get({ documentId: 'split/doc' })));
    return all.every((r) => r.json === all[0]!.json) && (JSON.parse(all[0]!.json) as { c: number }).c === 110;
  });
  console.log(`converged ${ms} ms after the heal`);
  const json = JSON.parse((await c!.get({ documentId: 'split/doc' })).json) as { m: Record<string, number> };
  for (let i = 0; i < 10; i++) {
    expect(json.m[`a${i}`]).toBe(i);
    expect(json.m[`b${i}`]).toBe(i);
  }
  expect(json.m.q).toBe(1); // the write whose QUORUM failed was still durable on n1 and replicated

  // The ledger on n1 shows the episode with its counts, then its convergence.
  await eventually('episode converged in the ledger', async () => {
    const eps = (await a!.ledger()).episodes.filter((e) => e.cause === 'injected');
    return eps.length === 2 && eps.every((e) => e.healedAtMs > 0n && e.convergedAtMs > 0n);
  });
  const eps = (await a!.ledger()).episodes;
  const toB = eps.find((e) => e.peerId === 'n2')!;
  expect(toB.localUpdates).toBe(11n); // ten LOCAL writes and the failed-QUORUM one
  expect(toB.documents).toContain('split/doc');
  const statusB = await b!.status();
  // n2 took ten LOCAL writes, one QUORUM and one failed ALL while cut from n1.
  expect(statusB.recentEpisodes.find((e) => e.peerId === 'n1')?.localUpdates).toBe(12n);
}, 60_000);

test('a delayed link still replicates, later', async () => {
  const [a, b] = tc.stubs;
  await a!.setLinkFaults([{ peerId: 'n2', cut: false, delayMs: 300 }], true);
  await b!.setLinkFaults([{ peerId: 'n1', cut: false, delayMs: 300 }], true);
  expect((await a!.status()).peers.find((p) => p.nodeId === 'n2')!.delayMs).toBe(300);
  const res = await a!.apply({ documentId: 'split/delayed', operations: [set(['m', 'v'], 1)], ack: AckLevel.ACK_LEVEL_ALL }, 5000);
  expect(res.ackedBy).toBe(3);
  await healAll();
});
