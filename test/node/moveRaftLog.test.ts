// Moving the authoritative log out of the documents' store into its own: everything the log
// wrote goes, nothing else does, and a crash at any write of the move loses nothing (the next
// start finishes it).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asNodeId, Entry, HardState } from '../../services/core/consensus';
import { DurableRaftStorage, earlierLayoutOps, snapshotChunkBytes } from '../../services/node/authority/DurableRaftStorage';
import { moveRaftLog, raftLogMovedKey, raftLogPrefix } from '../../services/node/authority/moveRaftLog';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { prefixEnd, StorageEngine, WriteOp } from '../../services/storage/StorageEngine';

const n1 = asNodeId('n1');
const n2 = asNodeId('n2');
const config = { voters: [n1, n2], learners: [] };
const entry = (index: number, term: number): Entry => ({ index, term, kind: 'normal', data: new Uint8Array([index & 255, 7]) });

/** Bytes by their digest: comparing megabytes element by element is slow in Jest. */
const digest = (b: Uint8Array): string => `${b.byteLength} B ${createHash('sha256').update(b).digest('hex')}`;

/** Runs `fn` on a Raft storage over `engine`, with a write-ahead file in a temp dir removed after. */
function withStorage<T>(engine: StorageEngine, fn: (s: DurableRaftStorage) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-movelog-'));
  const s = new DurableRaftStorage(engine, dir, config);
  try {
    return fn(s);
  } finally {
    s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What a Raft storage over `engine` loads: hard state, snapshot and every entry. Over a copy:
 * the storage imports an earlier layout's entries into its file and deletes them from the engine.
 */
function loaded(engine: StorageEngine): unknown {
  const copy = new MemoryEngine();
  void copy.write([...engine.range({ gte: '', lt: '\uffff' })].map(({ key, value }) => ({ type: 'put', key, value })));
  return withStorage(copy, (s) => {
    const first = s.firstIndex();
    const last = s.lastIndex();
    const snapshot = s.snapshot();
    return { state: s.initialState(), snapshot: { ...snapshot, data: digest(snapshot.data) }, first, last, entries: s.entries(first, last + 1, Number.MAX_SAFE_INTEGER) };
  });
}

const dump = (engine: MemoryEngine, prefix = ''): [string, string][] =>
  [...engine.range({ gte: prefix, lt: prefix === '' ? '\uffff' : prefixEnd(prefix) })].map((e) => [e.key, digest(e.value)]);

/**
 * A documents' store from before the move: a log with a snapshot of five chunks (more than one
 * copy batch) and 10,500 entries after it (more than one delete batch), beside document data.
 */
async function oldLayout(): Promise<MemoryEngine> {
  const engine = new MemoryEngine();
  await engine.write([
    { type: 'put', key: 'u:doc\u0000000000000001', value: new Uint8Array([1]) },
    { type: 'put', key: 'd:doc', value: new Uint8Array([2]) },
    { type: 'put', key: 'n:incarnation', value: new TextEncoder().encode('4') },
    { type: 'put', key: 's:doc', value: new Uint8Array([3]) },
  ]);
  const data = new Uint8Array(4 * snapshotChunkBytes + 123);
  for (let i = 0; i < data.length; i += 4093) data[i] = (i / 4093) & 255;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-movelog-'));
  const s = new DurableRaftStorage(engine, dir, config);
  try {
    await s.persist(undefined, [entry(1, 1), entry(2, 1)], { term: 1, vote: n1, commit: 2 });
    await s.snapshotAndCompact(2, config, data, 2);
  } finally {
    s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // That layout kept entries and hard state in the store too.
  const hs: HardState = { term: 2, vote: n2, commit: 10_000 };
  const entries = Array.from({ length: 10_500 }, (_, i) => entry(3 + i, 2));
  await engine.write(earlierLayoutOps(entries, hs));
  return engine;
}

/** An engine that fails its `failAt`-th write (1-based) and every one after, like a crash there. */
class CrashingEngine implements StorageEngine {
  private writes = 0;
  constructor(private readonly inner: StorageEngine, private readonly failAt: number, private readonly only: 'put' | 'del' | 'any' = 'any') {}
  get(key: string): Uint8Array | undefined {
    return this.inner.get(key);
  }
  range(...args: Parameters<StorageEngine['range']>): ReturnType<StorageEngine['range']> {
    return this.inner.range(...args);
  }
  async write(ops: readonly WriteOp[]): Promise<void> {
    if (this.only === 'any' || ops.some((o) => o.type === this.only)) {
      if (++this.writes >= this.failAt) throw new Error(`crash at write ${this.writes}`);
    }
    return this.inner.write(ops);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test('the whole log moves, with its snapshot chunks, and nothing else does', async () => {
  const from = await oldLayout();
  const want = loaded(from);
  const documents = dump(from).filter(([k]) => !k.startsWith(raftLogPrefix));
  const to = new MemoryEngine();
  const moved = await moveRaftLog(from, to);
  expect(moved).toBe(dump(await oldLayout(), raftLogPrefix).length);
  expect(loaded(to)).toEqual(want);
  expect(dump(from, raftLogPrefix)).toEqual([]);
  expect(dump(from)).toEqual(documents);
  expect(to.get(raftLogMovedKey)).toBeDefined();
  // A second start has nothing to move.
  expect(await moveRaftLog(from, to)).toBe(0);
  expect(loaded(to)).toEqual(want);
});

test('a store without a log (a new node, a replica) moves nothing and writes nothing', async () => {
  const from = new MemoryEngine();
  await from.write([{ type: 'put', key: 'd:doc', value: new Uint8Array([2]) }]);
  const to = new MemoryEngine();
  expect(await moveRaftLog(from, to)).toBe(0);
  expect(dump(to)).toEqual([]);
  expect(dump(from)).toEqual([['d:doc', digest(new Uint8Array([2]))]]);
});

test('a crash at any write of the copy leaves the old store whole, and the next start moves it all', async () => {
  const want = loaded(await oldLayout());
  // Writes of the copy: two pages of puts (the chunks pass the page's 16 MiB), then the mark.
  let failAt = 1;
  for (; ; failAt++) {
    const from = await oldLayout();
    const to = new MemoryEngine();
    const crashed = await moveRaftLog(from, new CrashingEngine(to, failAt)).then(() => false, () => true);
    if (!crashed) break;
    expect([failAt, to.get(raftLogMovedKey)]).toEqual([failAt, undefined]);
    expect([failAt, loaded(from)]).toEqual([failAt, want]);
    await moveRaftLog(from, to);
    expect([failAt, loaded(to)]).toEqual([failAt, want]);
    expect([failAt, dump(from, raftLogPrefix)]).toEqual([failAt, []]);
  }
  expect(failAt).toBe(4);
});

test('a crash while deleting the moved log from the old store: the next start deletes the rest, the copy stays', async () => {
  const want = loaded(await oldLayout());
  for (let failAt = 1; failAt <= 2; failAt++) {
    const from = await oldLayout();
    const to = new MemoryEngine();
    await expect(moveRaftLog(new CrashingEngine(from, failAt, 'del'), to)).rejects.toThrow('crash');
    expect([failAt, loaded(to)]).toEqual([failAt, want]);
    const copy = dump(to);
    await moveRaftLog(from, to);
    expect([failAt, dump(from, raftLogPrefix)]).toEqual([failAt, []]);
    expect([failAt, dump(to)]).toEqual([failAt, copy]);
  }
});
