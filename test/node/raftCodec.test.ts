// The authoritative log's protobuf codec (wire and disk) and the durable Raft storage built on it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asNodeId, Entry, Message } from '../../services/core/consensus';
import { DomainError } from '../../services/core/errors/DomainError';
import { DurableRaftStorage, earlierLayoutOps, snapshotChunkBytes } from '../../services/node/authority/DurableRaftStorage';
import { entryFromProto, entryToProto, messageFromProto, messageToProto, snapshotToProto } from '../../services/node/authority/raftCodec';
import { LmdbEngine } from '../../services/storage/LmdbEngine';
import { RaftEntry, RaftMessage, RaftMessageType, RaftSnapshot } from '../../proto/gen/concord/v1/raft';
import { RaftSim } from '../sim/raft/RaftSim';

const n1 = asNodeId('n1');
const n2 = asNodeId('n2');
const roundTrip = (m: Message): Message => messageFromProto(RaftMessage.decode(RaftMessage.encode(messageToProto(m)).finish()));
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const entry = (index: number, term: number, data = bytes(index & 255)): Entry => ({ index, term, kind: 'normal', data });

const base = { from: n1, to: n2, term: 7 };
const everyType: Message[] = [
  { ...base, type: 'vote', lastLogIndex: 10, lastLogTerm: 6, transfer: true },
  { ...base, type: 'vote-resp', reject: true },
  { ...base, type: 'pre-vote', lastLogIndex: 2 ** 40, lastLogTerm: 0 },
  { ...base, type: 'pre-vote-resp', reject: false },
  { ...base, type: 'app', prevLogIndex: 9, prevLogTerm: 6, commit: 8, entries: [entry(10, 7), { index: 11, term: 7, kind: 'config', data: bytes() }, { index: 12, term: 7, kind: 'noop', data: bytes() }] },
  { ...base, type: 'app', prevLogIndex: 0, prevLogTerm: 0, commit: 0, entries: [] },
  { ...base, type: 'app-resp', index: 12, reject: true, rejectHint: 5, logTermHint: 3 },
  { ...base, type: 'heartbeat', commit: 4, readContext: null },
  { ...base, type: 'heartbeat', commit: 4, readContext: '' },
  { ...base, type: 'heartbeat-resp', readContext: 'n2:17' },
  { ...base, type: 'snap', snapshot: { index: 100, term: 6, voters: [n1, n2], learners: [asNodeId('n3')], data: bytes(1, 2, 3) } },
  { ...base, type: 'read-index', context: 'n2:1' },
  { ...base, type: 'read-index-resp', context: 'n2:1', index: 44 },
  { ...base, type: 'timeout-now' },
];

describe('raft codec', () => {
  test.each(everyType.map((m) => [m.type, m] as const))('%s survives the wire unchanged', (_type, m) => {
    expect(roundTrip(m)).toEqual(m);
  });

  test('the whole consensus core runs unchanged over the codec (simulator, 40 seeds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = new RaftSim({ seed, wire: roundTrip }).run();
      if (!r.ok) throw new Error(`seed ${seed} failed over the codec: ${r.error}\nreplay the same seed without the codec: SIM_SEED=${seed} npx jest test/sim/raft`);
    }
  });

  test('malformed messages are refused with invalid-argument, naming what is wrong', () => {
    const good = messageToProto(everyType[0] as Message);
    const cases: [Partial<RaftMessage>, RegExp][] = [
      [{ type: RaftMessageType.RAFT_MESSAGE_TYPE_UNSPECIFIED }, /message type/],
      [{ type: 99 as RaftMessageType }, /message type/],
      [{ from: '' }, /message from/],
      [{ to: '' }, /message to/],
      [{ term: 2n ** 60n }, /term/],
      [{ type: RaftMessageType.RAFT_MESSAGE_TYPE_SNAP, snapshot: undefined }, /snapshot/],
      [{ type: RaftMessageType.RAFT_MESSAGE_TYPE_APP, entries: [{ term: 1n, index: 1n, kind: 7 as never, data: bytes() }] }, /entry kind/],
    ];
    for (const [patch, why] of cases) {
      let err: unknown;
      try {
        messageFromProto({ ...good, ...patch });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).kind).toBe('invalid-argument');
      expect((err as DomainError).message).toMatch(why);
    }
  });

  test('entries keep kind, term, index and data', () => {
    const e: Entry = { index: 3, term: 2, kind: 'config', data: bytes(9, 8) };
    expect(entryFromProto(RaftEntry.decode(RaftEntry.encode(entryToProto(e)).finish()))).toEqual(e);
  });
});

describe('durable raft storage (write-ahead file and LMDB)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-raftlog-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const reopen = async <T>(fn: (s: DurableRaftStorage) => Promise<T> | T): Promise<T> => {
    const engine = LmdbEngine.open(dir);
    let s: DurableRaftStorage | undefined;
    try {
      s = new DurableRaftStorage(engine, path.join(dir, 'wal'), { voters: [n1, n2], learners: [] });
      const result = await fn(s);
      await s.idle();
      return result;
    } finally {
      s?.stop();
      await engine.close();
    }
  };

  test('entries, hard state and snapshot survive a restart; a replaced tail stays replaced', async () => {
    await reopen(async (s) => {
      await s.persist(undefined, [entry(1, 1), entry(2, 1), entry(3, 1)], { term: 1, vote: n1, commit: 1 });
      // A new leader of term 2 overwrites the uncommitted tail from index 2.
      await s.persist(undefined, [entry(2, 2, bytes(42))], { term: 2, vote: n2, commit: 1 });
    });
    await reopen(async (s) => {
      expect(s.initialState()).toEqual({ term: 2, vote: n2, commit: 1 });
      expect(s.lastIndex()).toBe(2);
      const got = s.entries(1, 3, Number.MAX_SAFE_INTEGER);
      expect(got).toEqual({ ok: true, entries: [entry(1, 1), entry(2, 2, bytes(42))] });
      await s.snapshotAndCompact(2, { voters: [n1, n2], learners: [] }, bytes(5, 5), 2);
    });
    await reopen((s) => {
      expect(s.snapshot()).toEqual({ index: 2, term: 2, voters: [n1, n2], learners: [], data: bytes(5, 5) });
      expect(s.firstIndex()).toBe(3);
      // The stored commit trails the snapshot (commit-only changes are not synced): it is lifted.
      expect(s.initialState().commit).toBe(2);
    });
  });

  test('a snapshot stored by an earlier version (data inside the record) is read; a new one keeps its data apart', async () => {
    const engine = LmdbEngine.open(dir);
    const old = { index: 4, term: 2, voters: [n1, n2], learners: [], data: bytes(7, 7, 7) };
    await engine.write([{ type: 'put', key: 'r:snap', value: RaftSnapshot.encode(snapshotToProto(old)).finish() }]);
    await engine.close();
    await reopen(async (s) => {
      expect(s.snapshot()).toEqual(old);
      await s.persist(undefined, [entry(5, 2), entry(6, 2)], { term: 2, vote: n1, commit: 6 });
      await s.snapshotAndCompact(6, { voters: [n1, n2], learners: [] }, bytes(1, 2, 3, 4), 5);
    });
    await reopen((s) => expect(s.snapshot()).toEqual({ index: 6, term: 2, voters: [n1, n2], learners: [], data: bytes(1, 2, 3, 4) }));
    const again = LmdbEngine.open(dir);
    try {
      expect(RaftSnapshot.decode(again.get('r:snap')!).data).toHaveLength(0);
      expect([...again.range({ gte: 'r:snapdata:', lt: 'r:snapdata;' })].map((c) => [c.key, c.value])).toEqual([['r:snapdata:000000000006:00000000', bytes(1, 2, 3, 4)]]);
    } finally {
      await again.close();
    }
  });

  test('snapshot data in several chunks, stored ahead of its record, survives a restart; chunks of other snapshots go', async () => {
    // Seeded bytes over two and a bit chunks, so a misplaced chunk changes the data.
    const big = new Uint8Array(2 * snapshotChunkBytes + 12345);
    for (let i = 0, x = 17; i < big.length; i++) big[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    await reopen(async (s) => {
      await s.persist(undefined, [entry(1, 1), entry(2, 1), entry(3, 1)], { term: 1, vote: n1, commit: 3 });
      // Chunks of a snapshot whose record never came (a crash before it, say).
      await s.storeSnapshotData(2, bytes(9, 9));
      await s.storeSnapshotData(3, big);
      await s.snapshotAndCompact(3, { voters: [n1, n2], learners: [] }, big, 2, true);
    });
    await reopen((s) => {
      expect(s.snapshot().index).toBe(3);
      expect(Buffer.from(s.snapshot().data).equals(Buffer.from(big))).toBe(true);
    });
    const again = LmdbEngine.open(dir);
    try {
      const keys = [...again.range({ gte: 'r:snapdata:', lt: 'r:snapdata;', keysOnly: true })].map((c) => c.key);
      expect(keys).toEqual(['00000000', '00000001', '00000002'].map((i) => `r:snapdata:000000000003:${i}`));
      // A lost chunk is refused at start rather than loaded as a smaller state.
      await again.write([{ type: 'del', key: 'r:snapdata:000000000003:00000001' }]);
      expect(() => new DurableRaftStorage(again, path.join(dir, 'wal'), { voters: [n1, n2], learners: [] })).toThrow(/incomplete: its chunks hold 4206649 of 8400953 bytes/);
    } finally {
      await again.close();
    }
  });

  test('a log an earlier version kept in the store is copied into the file at start, then deleted from the store', async () => {
    const conf = { voters: [n1, n2], learners: [] };
    await reopen(async (s) => {
      await s.persist(undefined, [1, 2, 3].map((i) => entry(i, 1)), { term: 1, vote: n1, commit: 3 });
      await s.snapshotAndCompact(2, conf, bytes(2), 2);
    });
    // That layout: entries (one the snapshot covers, left by a stop) and hard state in the store.
    fs.rmSync(path.join(dir, 'wal'), { recursive: true });
    const engine = LmdbEngine.open(dir);
    await engine.write(earlierLayoutOps([2, 3, 4, 5].map((i) => entry(i, i < 4 ? 1 : 2)), { term: 2, vote: n2, commit: 4 }));
    await engine.close();
    const expectLog = (s: DurableRaftStorage): void => {
      expect(s.initialState()).toEqual({ term: 2, vote: n2, commit: 4 });
      expect([s.firstIndex(), s.lastIndex()]).toEqual([3, 5]);
      expect(s.entries(3, 6, Number.MAX_SAFE_INTEGER)).toEqual({ ok: true, entries: [entry(3, 1), entry(4, 2), entry(5, 2)] });
    };
    await reopen(expectLog);
    const again = LmdbEngine.open(dir);
    try {
      expect([...again.range({ gte: 'r:e:', lt: 'r:e;', keysOnly: true }), ...(again.get('r:hs') === undefined ? [] : ['r:hs'])]).toEqual([]);
    } finally {
      await again.close();
    }
    await reopen(async (s) => {
      expectLog(s);
      await s.persist(undefined, [entry(6, 2)], { term: 2, vote: n2, commit: 5 });
    });
    await reopen((s) => expect(s.lastIndex()).toBe(6));
  });

  test('an installed snapshot drops the log before it, also after a restart; covered segments go', async () => {
    const conf = { voters: [n1, n2], learners: [] };
    await reopen(async (s) => {
      await s.persist(undefined, [1, 2, 3, 4].map((i) => entry(i, 1)), { term: 1, vote: n1, commit: 2 });
      // A leader of term 3 sends a snapshot at 6 (its term 3): the stale tail 3-4 must not come back.
      await s.persist({ index: 6, term: 3, voters: conf.voters, learners: [], data: bytes(6, 6) }, [], { term: 3, vote: n2, commit: 6 });
      await s.persist(undefined, [entry(7, 3)], { term: 3, vote: n2, commit: 6 });
    });
    await reopen((s) => {
      expect(s.snapshot()).toEqual({ index: 6, term: 3, voters: conf.voters, learners: [], data: bytes(6, 6) });
      expect([s.firstIndex(), s.lastIndex()]).toEqual([7, 7]);
      expect(s.term(7)).toEqual({ ok: true, term: 3 });
      expect(s.initialState()).toEqual({ term: 3, vote: n2, commit: 6 });
      expect(s.walSegments).toHaveLength(1);
    });
  });

  test('a crash between an installed snapshot\'s record and the file\'s mark: the log it replaced does not come back', async () => {
    await reopen(async (s) => {
      await s.persist(undefined, [1, 2, 3, 4].map((i) => entry(i, 1)), { term: 1, vote: n1, commit: 1 });
    });
    const writeSnapshot = async (term: number): Promise<void> => {
      const engine = LmdbEngine.open(dir);
      await engine.write([{ type: 'put', key: 'r:snap', value: RaftSnapshot.encode(snapshotToProto({ index: 2, term, voters: [n1, n2], learners: [], data: bytes(2) })).finish() }]);
      await engine.close();
    };
    // The same history (a local snapshot of entry 2, term 1): the entries after it stay.
    await writeSnapshot(1);
    await reopen((s) => expect([s.firstIndex(), s.lastIndex()]).toEqual([3, 4]));
    // Another history's snapshot at 2 (term 3): entries 3 and 4 of term 1 are not part of it.
    await writeSnapshot(3);
    await reopen((s) => {
      expect([s.firstIndex(), s.lastIndex()]).toEqual([3, 2]);
      expect(s.initialState()).toEqual({ term: 1, vote: n1, commit: 2 });
    });
  });

  test('a hard state that only moves the commit index is not written (etcd MustSync)', async () => {
    await reopen(async (s) => {
      await s.persist(undefined, [entry(1, 1)], { term: 1, vote: n1, commit: 0 });
      expect(s.changesVote({ term: 1, vote: n1, commit: 1 })).toBe(false);
      await s.persist(undefined, [], { term: 1, vote: n1, commit: 1 });
      expect(s.initialState().commit).toBe(1);
    });
    await reopen((s) => expect(s.initialState()).toEqual({ term: 1, vote: n1, commit: 0 }));
  });
});
