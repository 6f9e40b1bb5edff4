// Where DurableRaftStorage.persist writes its record: on the loop's thread only when asked
// (`loop-when-fast`: a follower's entries, a vote), for a record that fits, while the placement
// says appends are fast; otherwise on the thread pool. Every counted append feeds the placement;
// one that started a new segment does not.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asNodeId, Entry } from '../../services/core/consensus';
import { AppendPlacement } from '../../services/node/authority/AppendPlacement';
import { DurableRaftStorage } from '../../services/node/authority/DurableRaftStorage';
import { RaftWal } from '../../services/node/authority/RaftWal';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

const voters = ['n1', 'n2', 'n3'].map(asNodeId);
const config = { voters, learners: [] };
const entry = (index: number, size = 100): Entry => ({ index, term: 1, kind: 'normal', data: new Uint8Array(size).fill(index & 255) });
const hs = { term: 1, vote: voters[0] ?? null, commit: 0 };

let dir: string;
let storage: DurableRaftStorage | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-placement-'));
});
afterEach(() => {
  storage?.stop();
  storage = undefined;
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(placement: AppendPlacement, segmentBytes?: number): { s: DurableRaftStorage; onLoop: jest.SpyInstance; onPool: jest.SpyInstance } {
  const onLoop = jest.spyOn(RaftWal.prototype, 'appendIfFits');
  const onPool = jest.spyOn(RaftWal.prototype, 'appendOffThread');
  storage = new DurableRaftStorage(new MemoryEngine(), dir, config, undefined, segmentBytes, placement);
  onLoop.mockClear();
  onPool.mockClear();
  return { s: storage, onLoop, onPool };
}

test('a leader\'s persist goes to the pool; a follower\'s small one runs on the loop; a large one and a snapshot go to the pool', async () => {
  const { s, onLoop, onPool } = open(new AppendPlacement(1000, Infinity));
  await s.persist(undefined, [entry(1)], hs, 'pool');
  expect([onLoop.mock.calls.length, onPool.mock.calls.length]).toEqual([0, 1]);
  await s.persist(undefined, [entry(2)], hs, 'loop-when-fast');
  expect([onLoop.mock.calls.length, onPool.mock.calls.length]).toEqual([1, 1]);
  expect(onLoop.mock.results[0]?.value).toBe(true);
  await s.persist(undefined, [entry(3, 2000)], hs, 'loop-when-fast');
  expect([onLoop.mock.calls.length, onPool.mock.calls.length]).toEqual([1, 2]);
  await s.persist({ index: 10, term: 1, voters, learners: [], data: new Uint8Array([1]) }, [], { ...hs, commit: 10 }, 'loop-when-fast');
  expect([onLoop.mock.calls.length, onPool.mock.calls.length]).toEqual([1, 3]);
  expect(s.lastIndex()).toBe(10);
});

test('a slow append, on either path, sends the next ones to the pool', async () => {
  // Every append is slow (over -1 ms): the first runs on the loop, the rest on the pool.
  const { s, onLoop, onPool } = open(new AppendPlacement(1000, -1, 2));
  for (let i = 1; i <= 4; i++) await s.persist(undefined, [entry(i)], hs, 'loop-when-fast');
  expect([onLoop.mock.calls.length, onPool.mock.calls.length]).toEqual([1, 3]);
});

test('appends that start a new segment, and records too large for the loop, are not counted', async () => {
  const placement = new AppendPlacement(1000, Infinity);
  const took = jest.spyOn(placement, 'took');
  const { s } = open(placement, 1024);
  let counted = 0;
  for (let i = 1; i <= 30; i++) {
    const before = s.walSegments.length;
    await s.persist(undefined, [entry(i)], hs, i % 2 === 0 ? 'pool' : 'loop-when-fast');
    if (s.walSegments.length === before) counted++;
  }
  await s.persist(undefined, [entry(31, 2000)], hs, 'loop-when-fast');
  expect(counted).toBeLessThan(30);
  expect(took).toHaveBeenCalledTimes(counted);
});
