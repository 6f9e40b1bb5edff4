import { AckLevel } from '../../../proto/gen/concord/v1/documents';
import { NodeStubs } from '../../integration/nodeStubs';
import { ConcordBenchCluster } from '../concord/ConcordBenchCluster';
import { forEachLimit } from '../../../clients/client/forEachLimit';
import { waitUntil } from '../references/ServerProcess';
import { Divergence, YjsTwin } from './YjsTwin';

const writersPerSide = 32;

/** Bytes of document data a node has received from peers since it started (all paths). */
async function receivedBytes(stub: NodeStubs): Promise<number> {
  const t = (await stub.status()).traffic;
  return Number((t?.pushBytesReceived ?? 0n) + (t?.antiEntropyBytesReceived ?? 0n) + (t?.catchUpBytesReceived ?? 0n));
}

/** Writes `updates` map sets through one node at LOCAL, `writersPerSide` at a time. */
export async function writeSide(stub: NodeStubs, docId: (j: number) => string, side: string, d: Divergence): Promise<void> {
  await forEachLimit(d.updates, writersPerSide, async (n) => {
    const valueJson = JSON.stringify(d.valueOf(side, n));
    await stub.apply({ documentId: docId(n % d.docs), operations: [{ op: { $case: 'mapSet', value: { path: ['m', `${side}${n}`], valueJson } } }], ack: AckLevel.ACK_LEVEL_LOCAL }, 30_000);
  });
}

/** Every link of every node connected with nothing left to send. */
async function drained(c: ConcordBenchCluster): Promise<boolean> {
  const all = await Promise.all(c.docs.map((s) => s.status()));
  return all.every((st) => st.peers.every((p) => p.connected && p.backlogUpdates === 0n));
}

export interface HealResult extends Record<string, number> {
  timeMs: number;
  drainMs: number;
  bytes: number;
  missingBytes: number;
  bytesRatio: number;
  verified: number;
  /** Rate of the divergent writes (both sides together), to budget the next sizes. */
  writesPerSec: number;
  /** From the heal to convergence, in wall-clock time (see windowKeys). */
  windowFromMs: number;
  windowToMs: number;
}

/**
 * One split-brain heal: n1 is cut off from n2 and n3; `d.updates` map sets land on each side
 * (through n1, and through n2, which keeps replicating to n3); then every link heals at once.
 * Converged = the partition ledger of every node marks its episode converged (its first
 * anti-entropy round after the heal finished, by the nodes' clocks); drained = replication queues
 * are empty too, as first seen by the bench's polls (every 100 ms, from when it saw convergence):
 * an upper bound, at least one poll after the heal.
 * Bytes = what all nodes received from peers meanwhile; missing = raw update bytes the nodes
 * lacked (n1 lacks side b, n2 and n3 lack side a). A sample of documents is then compared.
 */
export async function healRound(c: ConcordBenchCluster, prefix: string, d: Divergence, twin: YjsTwin, log: (line: string) => void): Promise<HealResult> {
  const [n1, n2, n3] = c.docs as [NodeStubs, NodeStubs, NodeStubs];
  const docId = (j: number): string => `${prefix}/d${j}`;
  await forEachLimit(d.docs, 64, async (j) => {
    await n3.apply({ documentId: docId(j), operations: [{ op: { $case: 'mapSet', value: { path: ['m', 'base'], valueJson: '"common state"' } } }], ack: AckLevel.ACK_LEVEL_ALL }, 30_000);
  });
  const token = c.adminToken;
  const cutAt = Date.now();
  await Promise.all([
    n1.setLinkFaults([{ peerId: 'n2', cut: true, delayMs: 0 }, { peerId: 'n3', cut: true, delayMs: 0 }], true, token),
    n2.setLinkFaults([{ peerId: 'n1', cut: true, delayMs: 0 }], true, token),
    n3.setLinkFaults([{ peerId: 'n1', cut: true, delayMs: 0 }], true, token),
  ]);
  const w0 = Date.now();
  await Promise.all([writeSide(n1, docId, 'a', d), writeSide(n2, docId, 'b', d)]);
  const writeMs = Date.now() - w0;
  // Side b's own replication (n2 -> n3) is not part of the heal: let it finish first.
  await waitUntil('n2 to replicate side b to n3', async () => (await n2.status()).peers.find((p) => p.nodeId === 'n3')?.backlogUpdates === 0n, 120_000);
  const before = (await Promise.all(c.docs.map(receivedBytes))).reduce((a, b) => a + b, 0);
  const healAt = Date.now();
  await Promise.all(c.docs.map((s) => s.setLinkFaults([], true, token)));
  let convergedAt = 0;
  await waitUntil('every partition episode to converge', async () => {
    const ledgers = await Promise.all(c.docs.map((s) => s.ledger()));
    const mine = ledgers.map((l) => l.episodes.filter((e) => Number(e.startedAtMs) >= cutAt));
    const expected = [2, 1, 1];
    if (mine.some((eps, i) => eps.length < (expected[i] as number) || eps.some((e) => e.convergedAtMs === 0n))) return false;
    convergedAt = Math.max(...mine.flat().map((e) => Number(e.convergedAtMs)));
    return true;
  }, 300_000);
  await waitUntil('replication queues to drain', () => drained(c), 300_000);
  const drainedAt = Date.now();
  const after = (await Promise.all(c.docs.map(receivedBytes))).reduce((a, b) => a + b, 0);
  const missingBytes = 2 * twin.rawBytes.a + twin.rawBytes.b;
  const problem = await verify(c, docId, d, twin);
  if (problem !== undefined) log(`heal ${prefix}: not converged after the heal: ${problem}`);
  return {
    timeMs: convergedAt - healAt,
    drainMs: drainedAt - healAt,
    bytes: after - before,
    missingBytes,
    bytesRatio: (after - before) / missingBytes,
    verified: problem === undefined ? 1 : 0,
    writesPerSec: (2 * d.updates * 1000) / writeMs,
    windowFromMs: healAt,
    windowToMs: convergedAt,
  };
}

/** Up to 20 documents read from every node: the same content, and every key of both sides. */
async function verify(c: ConcordBenchCluster, docId: (j: number) => string, d: Divergence, twin: YjsTwin): Promise<string | undefined> {
  const step = Math.max(1, Math.floor(d.docs / 20));
  for (let j = 0; j < d.docs; j += step) {
    // Map key order follows each replica's arrival order, so compare sorted entries.
    const maps = await Promise.all(c.docs.map(async (s) => {
      const m = (JSON.parse((await s.get({ documentId: docId(j) })).json) as { m?: Record<string, unknown> }).m ?? {};
      return JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }));
    const keys = (JSON.parse(maps[0] as string) as unknown[]).length;
    if (maps.some((x) => x !== maps[0])) return `${docId(j)} differs between nodes`;
    if (keys !== twin.keysIn(j)) return `${docId(j)} has ${keys} keys, expected ${twin.keysIn(j)}`;
  }
  return undefined;
}
