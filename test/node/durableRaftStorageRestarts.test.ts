// Seeded runs of a voter's durable log: appends, tail replacements by new leaders, votes,
// commit-only moves, local snapshots with compaction and installed snapshots, over small
// segments of the write-ahead file, with restarts and torn last records. After every restart
// the log loads exactly what a model says was made durable, and every compaction has deleted
// the segments its snapshot covers whole. A failure prints its seed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asNodeId, Entry, HardState } from '../../services/core/consensus';
import { AppendPlacement } from '../../services/node/authority/AppendPlacement';
import { DurableRaftStorage } from '../../services/node/authority/DurableRaftStorage';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { readSegment } from '../../services/storage/walFiles';
import { RaftWalRecord } from '../../proto/gen/concord/v1/raft';

const voters = ['n1', 'n2', 'n3'].map(asNodeId);
const config = { voters, learners: [] };
const segmentBytes = 2048;

interface Model {
  entries: Entry[];
  snapIndex: number;
  snapTerm: number;
  /** The last hard state persisted with a sync (term or vote changed, or with entries). */
  synced: HardState;
  /** The hard state in memory (commit-only moves are not synced). */
  hs: HardState;
}

const clone = (m: Model): Model => ({ ...m, entries: [...m.entries], synced: { ...m.synced }, hs: { ...m.hs } });
const lastIndex = (m: Model): number => m.entries.at(-1)?.index ?? m.snapIndex;
const termAt = (m: Model, i: number): number => (i === m.snapIndex ? m.snapTerm : (m.entries[i - m.snapIndex - 1] as Entry).term);

function expectLoads(s: DurableRaftStorage, m: Model, where: string): void {
  const got = {
    first: s.firstIndex(),
    last: s.lastIndex(),
    snapshot: [s.snapshot().index, s.snapshot().term],
    state: s.initialState(),
    entries: s.lastIndex() >= s.firstIndex() ? s.entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER) : { ok: true, entries: [] },
  };
  const want = {
    first: m.snapIndex + 1,
    last: lastIndex(m),
    snapshot: [m.snapIndex, m.snapTerm],
    state: { ...m.synced, commit: Math.max(m.synced.commit, m.snapIndex) },
    entries: { ok: true, entries: m.entries },
  };
  expect({ where, ...got }).toEqual({ where, ...want });
}

/** The highest entry index the records of a segment file hold (0: none). */
function maxIndexIn(file: string): number {
  const { records } = readSegment(fs.readFileSync(file), file, 'raft log', true, (p) => RaftWalRecord.decode(p));
  return Math.max(0, ...records.flatMap((r) => r.entries.map((e) => Number(e.index))));
}

/**
 * Compaction through `to` deleted the oldest segments while a snapshot covered all of their
 * entries: the oldest one left holds an entry past `to`, unless it is the one being written.
 */
function expectCompacted(s: DurableRaftStorage, to: number, where: string): void {
  const segments = s.walSegments;
  const oldestMax = segments.length === 1 ? undefined : maxIndexIn(segments[0] as string);
  expect({ where, to, oldestKept: oldestMax === undefined || oldestMax > to }).toEqual({ where, to, oldestKept: true });
}

/** Resolves with the number of compactions the run made. */
async function run(seed: number, steps: number): Promise<number> {
  let x = seed;
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * n);
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-raftlog-runs-'));
  const engine = new MemoryEngine();
  // Never slow: a `loop-when-fast` persist that fits its segment runs on this thread, whatever the disk's timing.
  const open = (): DurableRaftStorage => new DurableRaftStorage(engine, dir, config, undefined, segmentBytes, new AppendPlacement(undefined, Infinity));
  let s = open();
  let m: Model = { entries: [], snapIndex: 0, snapTerm: 0, synced: { term: 0, vote: null, commit: 0 }, hs: { term: 0, vote: null, commit: 0 } };
  let compactions = 0;
  const entry = (index: number, term: number): Entry => ({ index, term, kind: 'normal', data: new Uint8Array(1 + rand(120)).fill(index & 255) });
  // A follower's persists may run on the event loop's thread (AppendPlacement); a leader's on the pool.
  const placed = (): 'pool' | 'loop-when-fast' => (rand(2) === 0 ? 'pool' : 'loop-when-fast');
  const segmentBytesOnDisk = (): Map<string, Buffer> => new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
  try {
    for (let step = 0; step < steps; step++) {
      const where = `seed ${seed} step ${step}`;
      const before = clone(m);
      // Segment files a compaction dropped are deleted on the thread pool: done before looking.
      await s.idle();
      const disk = segmentBytesOnDisk();
      const op = rand(100);
      let tearable = true;
      if (op < 50) {
        const ents = Array.from({ length: 1 + rand(12) }, (_, i) => entry(lastIndex(m) + 1 + i, m.hs.term));
        // With the hard state when a commit-only move is pending (a Ready carries what changed).
        const withState = rand(2) === 0;
        await s.persist(undefined, ents, withState ? m.hs : undefined, placed());
        m.entries.push(...ents);
        if (withState) m.synced = { ...m.hs };
      } else if (op < 62) {
        // A new leader replaces the uncommitted tail.
        const from = Math.max(m.hs.commit, m.snapIndex) + 1 + rand(lastIndex(m) - Math.max(m.hs.commit, m.snapIndex) + 1);
        const hs = { term: m.hs.term + 1, vote: voters[rand(3)] ?? null, commit: m.hs.commit };
        const ents = Array.from({ length: 1 + rand(6) }, (_, i) => entry(from + i, hs.term));
        await s.persist(undefined, ents, hs, placed());
        m.entries = [...m.entries.filter((e) => e.index < from), ...ents];
        m.hs = hs;
        m.synced = { ...hs };
      } else if (op < 70) {
        const hs = { term: m.hs.term + 1, vote: voters[rand(3)] ?? null, commit: m.hs.commit };
        await s.persist(undefined, [], hs, placed());
        m.hs = hs;
        m.synced = { ...hs };
      } else if (op < 82) {
        const hs = { ...m.hs, commit: Math.min(lastIndex(m), m.hs.commit + rand(20)) };
        await s.persist(undefined, [], hs, placed());
        m.hs = hs;
        tearable = false;
      } else if (op < 94) {
        tearable = false;
        if (m.hs.commit <= m.snapIndex) continue;
        const index = m.snapIndex + 1 + rand(m.hs.commit - m.snapIndex);
        const term = termAt(m, index);
        const to = Math.max(m.snapIndex, index - rand(4));
        await s.snapshotAndCompact(index, config, new Uint8Array([index & 255, 1]), to);
        expectCompacted(s, to, where);
        compactions++;
        m.entries = m.entries.filter((e) => e.index > index);
        m.snapIndex = index;
        m.snapTerm = term;
      } else {
        // A leader's snapshot past our log: it replaces the whole log.
        tearable = false;
        const index = lastIndex(m) + 1 + rand(10);
        const hs = { term: m.hs.term + 1, vote: voters[rand(3)] ?? null, commit: index };
        await s.persist({ index, term: hs.term, voters, learners: [], data: new Uint8Array([index & 255, 2]) }, [], hs, placed());
        m = { entries: [], snapIndex: index, snapTerm: hs.term, hs, synced: { ...hs } };
        expectCompacted(s, index, where);
        compactions++;
      }
      const roll = rand(100);
      await s.idle();
      if (tearable && roll < 10) {
        // A crash inside the record this step wrote: the step never happened.
        s.stop();
        const newest = fs.readdirSync(dir).sort().at(-1) as string;
        const now = fs.readFileSync(path.join(dir, newest));
        const old = disk.get(newest) ?? Buffer.alloc(now.byteLength);
        let d0 = 0;
        while (d0 < now.byteLength && now[d0] === old[d0]) d0++;
        let d1 = now.byteLength;
        while (d1 > d0 && now[d1 - 1] === old[d1 - 1]) d1--;
        if (d1 > d0) {
          // The step's bytes up to the cut reached the disk, none after it.
          const torn = Buffer.from(now);
          const cut = d0 + rand(d1 - d0);
          old.copy(torn, cut, cut, now.byteLength);
          fs.writeFileSync(path.join(dir, newest), torn);
          m = before;
        }
        s = open();
        expectLoads(s, m, `${where} (torn)`);
        m.hs = { ...m.synced, commit: Math.max(m.synced.commit, m.snapIndex) };
      } else if (roll < 30) {
        s.stop();
        s = open();
        expectLoads(s, m, `${where} (restart)`);
        m.hs = { ...m.synced, commit: Math.max(m.synced.commit, m.snapIndex) };
      }
    }
    await s.idle();
    s.stop();
    s = open();
    expectLoads(s, m, `seed ${seed} end`);
    return compactions;
  } finally {
    s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('seeded runs with restarts and torn records load what was made durable', async () => {
  let compactions = 0;
  for (let seed = 1; seed <= 30; seed++) compactions += await run(seed, 150);
  // Enough compactions (442 with these seeds) for the segment check after each to mean something.
  expect(compactions).toBeGreaterThanOrEqual(300);
});
