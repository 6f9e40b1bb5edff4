// The documents' write-ahead log (LoggedEngine) over an in-memory base: checkpoints into the
// base, segment deletion, torn and corrupt records, and seeded runs with crashes at random
// moments (writes, syncs and checkpoints in flight, the newest segment cut anywhere past what
// was synced). After every crash the engine holds exactly the writes of some prefix of those
// issued, at least every acknowledged one. A failure prints its seed and step.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LmdbEngine } from '../../services/storage/LmdbEngine';
import { LoggedEngine } from '../../services/storage/LoggedEngine';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { StorageEngine, WriteOp } from '../../services/storage/StorageEngine';
import { walHeaderBytes } from '../../services/storage/walFiles';

const small = { segmentBytes: 2048, memtableBytesMax: 700 };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const contents = (e: StorageEngine): Map<string, string> => new Map([...e.range({ gte: '', lt: '\uffff' })].map((x) => [x.key, text(x.value) as string]));

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-logged-test-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A crash now: the base as it is durable and the log's files as the disk holds them, copied to a
 * new directory. Checkpointed segments are deleted on the thread pool, oldest first, maybe while
 * this copies: newest first, skipping one already gone, it copies what a crash could leave (the
 * newest files), never an older one without a newer.
 */
function crashCopy(dir: string, base: MemoryEngine): { dir: string; base: MemoryEngine } {
  const to = tempDir();
  for (const f of fs.readdirSync(dir).sort().reverse()) {
    try {
      fs.copyFileSync(path.join(dir, f), path.join(to, f));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return { dir: to, base: base.snapshot() };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
};

test('checkpoints move writes into the base and delete the segments they filled; close leaves everything there', async () => {
  const dir = tempDir();
  const base = new MemoryEngine();
  const engine = await LoggedEngine.open(dir, base, small);
  for (let i = 0; i < 120; i++) {
    await engine.write([{ type: 'put', key: `k${String(i).padStart(3, '0')}`, value: bytes(`v${i}`.padEnd(100, '.')) }, { type: 'del', key: `k${String(i - 50).padStart(3, '0')}` }]);
  }
  // Checkpointed segments go on the thread pool, after their memtable.
  await until(() => engine.stats.frozen === 0 && fs.readdirSync(dir).length === engine.stats.segmentFiles.length);
  expect(engine.stats.checkpoints).toBeGreaterThan(5);
  // The base has the early writes (and their deletions) before any close.
  expect(base.get('k000')).toBeUndefined();
  expect(text(base.get('k080'))?.startsWith('v80')).toBe(true);
  expect(engine.stats.segmentFiles.length).toBeLessThanOrEqual(3);
  expect(fs.readdirSync(dir).length).toBe(engine.stats.segmentFiles.length);
  const want = contents(engine);
  expect([...want.keys()]).toEqual(Array.from({ length: 50 }, (_, i) => `k${String(i + 70).padStart(3, '0')}`));
  await engine.close();
  expect(fs.readdirSync(dir)).toEqual([]);
  // Close closed the base too; what it holds is read from a copy.
  expect(contents(base.snapshot())).toEqual(want);
});

test('reads merge the memtables over the base: newest value wins, deletions hide, limits and keys-only hold', async () => {
  const base = new MemoryEngine();
  await base.write([{ type: 'put', key: 'a', value: bytes('base') }, { type: 'put', key: 'b', value: bytes('base') }, { type: 'put', key: 'd', value: bytes('base') }]);
  const engine = await LoggedEngine.open(tempDir(), base, { segmentBytes: 4096, memtableBytesMax: 1 << 20 });
  await engine.write([{ type: 'put', key: 'b', value: bytes('new') }, { type: 'del', key: 'd' }, { type: 'put', key: 'c', value: bytes('new') }]);
  expect([...engine.range({ gte: 'a', lt: 'z' })].map((e) => `${e.key}=${text(e.value)}`)).toEqual(['a=base', 'b=new', 'c=new']);
  expect([...engine.range({ gte: 'b', lt: 'z', limit: 1 })].map((e) => e.key)).toEqual(['b']);
  expect([...engine.range({ gte: 'a', lt: 'z', keysOnly: true })].map((e) => [e.key, e.value.byteLength])).toEqual([['a', 0], ['b', 0], ['c', 0]]);
  expect(engine.get('d')).toBeUndefined();
  // A range reads the memtable as it was when it began.
  const it = engine.range({ gte: 'a', lt: 'z' })[Symbol.iterator]();
  expect(it.next().value?.key).toBe('a');
  await engine.write([{ type: 'put', key: 'bb', value: bytes('later') }]);
  expect([it.next().value?.key, it.next().value?.key, it.next().done]).toEqual(['b', 'c', true]);
  await engine.close();
});

test('a torn last record is dropped with everything after it; the acknowledged writes stay', async () => {
  const dir = tempDir();
  const base = new MemoryEngine();
  const engine = await LoggedEngine.open(dir, base, { segmentBytes: 1 << 16, memtableBytesMax: 1 << 20 });
  await engine.write([{ type: 'put', key: 'a', value: bytes('1') }]);
  await engine.write([{ type: 'put', key: 'b', value: bytes('2') }]);
  const synced = engine.stats.syncedBytes;
  const crash = crashCopy(dir, base);
  await engine.close();
  const seg = path.join(crash.dir, (fs.readdirSync(crash.dir)[0] as string));
  // A record whose length and checksum reached the disk, its payload only in part.
  const fd = fs.openSync(seg, 'r+');
  const header = Buffer.alloc(walHeaderBytes + 5);
  header.writeUInt32LE(40, 0);
  header.writeUInt32LE(12345, 4);
  header.fill(7, walHeaderBytes);
  fs.writeSync(fd, header, 0, header.byteLength, synced);
  fs.closeSync(fd);
  const again = await LoggedEngine.open(crash.dir, crash.base);
  expect(contents(again)).toEqual(new Map([['a', '1'], ['b', '2']]));
  await again.close();
});

test('a bad record followed by data, or a torn one in an older segment, refuses to open', async () => {
  const dir = tempDir();
  const base = new MemoryEngine();
  const engine = await LoggedEngine.open(dir, base, { segmentBytes: 256, memtableBytesMax: 1 << 20 });
  for (let i = 0; i < 12; i++) await engine.write([{ type: 'put', key: `k${i}`, value: new Uint8Array(60).fill(i + 1) }]);
  expect(engine.stats.segmentFiles.length).toBeGreaterThan(2);
  const crash = crashCopy(dir, base);
  await engine.close();
  const [first, second] = fs.readdirSync(crash.dir).sort().map((f) => path.join(crash.dir, f)) as [string, string];
  // The first record of the newest segment but one: a flipped payload byte, with data after it in later segments.
  const flip = (file: string, at: number): void => {
    const b = fs.readFileSync(file);
    b[at] = (b[at] as number) ^ 0xff;
    fs.writeFileSync(file, b);
  };
  flip(second, walHeaderBytes + 3);
  await expect(LoggedEngine.open(crash.dir, crash.base.snapshot())).rejects.toThrow(/corrupt/);
  flip(second, walHeaderBytes + 3);
  // A record that does not hold, followed by data in the same segment.
  const b = fs.readFileSync(first);
  const len = b.readUInt32LE(0);
  expect(b.readUInt32LE(walHeaderBytes + len)).toBeGreaterThan(0);
  flip(first, walHeaderBytes + 1);
  await expect(LoggedEngine.open(crash.dir, crash.base.snapshot())).rejects.toThrow(/corrupt at byte 0: a record that does not hold is followed by data/);
  flip(first, walHeaderBytes + 1);
  // Only zeros after it, but in a segment older than the newest.
  fs.writeFileSync(first, Buffer.concat([b.subarray(0, walHeaderBytes + len), Buffer.from([9, 9, 9, 9, 9, 9, 9, 9]), Buffer.alloc(b.byteLength - walHeaderBytes - len - 8)]));
  await expect(LoggedEngine.open(crash.dir, crash.base.snapshot())).rejects.toThrow(/synced whole/);
});

test('a range left early ends its read of LMDB (no reader slot kept across checkpoints)', async () => {
  const dir = tempDir();
  // Every write is checkpointed at once, so each range reads a newer LMDB snapshot than the one before.
  const engine = await LoggedEngine.open(path.join(dir, 'wal'), LmdbEngine.open(dir), { segmentBytes: 1 << 16, memtableBytesMax: 1 });
  try {
    for (let i = 0; i < 20; i++) await engine.write([{ type: 'put', key: `k${String(i).padStart(4, '0')}`, value: new Uint8Array(100).fill(1) }]);
    for (let round = 0; round < 300; round++) {
      expect([...engine.range({ gte: 'k', lt: 'l', limit: 1 })].map((e) => e.key)).toEqual(['k0000']);
      for (const e of engine.range({ gte: 'k', lt: 'l' })) if (e.key === 'k0001') break;
      await engine.write([{ type: 'put', key: `k${String(round % 20).padStart(4, '0')}`, value: new Uint8Array(100).fill(2) }]);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(engine.stats.checkpoints).toBeGreaterThan(200);
  } finally {
    await engine.close();
  }
});

test('writes wait for the checkpoints once several memtables are frozen behind a slow base', async () => {
  const base = new MemoryEngine();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const slow: StorageEngine = {
    get: (k) => base.get(k),
    range: (o) => base.range(o),
    write: async (ops) => {
      await gate;
      await base.write(ops);
    },
    close: () => base.close(),
  };
  const engine = await LoggedEngine.open(tempDir(), slow, { segmentBytes: 1 << 16, memtableBytesMax: 200 });
  const resolved: number[] = [];
  const writes = Array.from({ length: 12 }, (_, i) => engine.write([{ type: 'put', key: `k${i}`, value: new Uint8Array(300) }]).then(() => {
    resolved.push(i);
  }));
  await until(() => resolved.length >= 3);
  await new Promise((r) => setTimeout(r, 50));
  // The first writes froze fewer memtables than the limit; the later ones wait for the base.
  expect(resolved).toEqual([0, 1, 2]);
  expect(engine.stats.frozen).toBeGreaterThanOrEqual(4);
  release();
  await Promise.all(writes);
  expect(resolved).toHaveLength(12);
  await engine.close();
  expect(base.snapshot().get('k11')).toBeDefined();
});

test('a failed sync fails its group and every later write, and reads stop: no write whose sync failed is ever read', async () => {
  const dir = tempDir();
  const base = new MemoryEngine();
  let failSyncs = false;
  const sync = async (fd: number): Promise<void> => {
    if (failSyncs) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    fs.fdatasyncSync(fd);
  };
  const engine = await LoggedEngine.open(dir, base, { sync });
  await engine.write([{ type: 'put', key: 'a', value: bytes('1') }]);
  failSyncs = true;
  const group = [engine.write([{ type: 'put', key: 'b', value: bytes('2') }]), engine.write([{ type: 'del', key: 'a' }])];
  for (const w of group) await expect(w).rejects.toThrow(/EIO/);
  expect(engine.failure?.message).toMatch(/EIO/);
  // Nothing more is logged, and the memtable, which holds the failed group, is not read again.
  await expect(engine.write([{ type: 'put', key: 'c', value: bytes('3') }])).rejects.toThrow(/EIO/);
  expect(() => engine.get('b')).toThrow(/EIO/);
  expect(() => [...engine.range({ gte: '', lt: '\uffff' })]).toThrow(/EIO/);
  await engine.close();
  // A restart replays what reached the file: the acknowledged write, and the failed group
  // whole or not at all (its writers were told it failed: its outcome is unknown to them).
  const again = await LoggedEngine.open(dir, base.snapshot());
  const state = contents(again);
  expect([new Map([['a', '1']]), new Map([['b', '2']])]).toContainEqual(state);
  await again.close();
});

test('a failed checkpoint fails the engine and keeps the log, so a restart over the base loses no acknowledged write', async () => {
  const dir = tempDir();
  const base = new MemoryEngine();
  let baseWrites = 0;
  const failing: StorageEngine = {
    get: (k) => base.get(k),
    range: (o) => base.range(o),
    write: async (ops) => {
      if (++baseWrites > 1) throw new Error('MDB_MAP_FULL: the base is full');
      await base.write(ops);
    },
    close: () => base.close(),
  };
  const engine = await LoggedEngine.open(dir, failing, small);
  const acknowledged: string[] = [];
  for (let i = 0; i < 60 && engine.failure === undefined; i++) {
    const key = `k${String(i).padStart(2, '0')}`;
    const ok = await engine.write([{ type: 'put', key, value: bytes(key.padEnd(60, '.')) }]).then(() => true, () => false);
    if (ok) acknowledged.push(key);
  }
  await until(() => engine.failure !== undefined);
  expect(engine.failure?.message).toMatch(/MDB_MAP_FULL/);
  expect(baseWrites).toBe(2);
  await expect(engine.write([{ type: 'put', key: 'z', value: bytes('z') }])).rejects.toThrow(/MDB_MAP_FULL/);
  expect(() => engine.get('k00')).toThrow(/MDB_MAP_FULL/);
  await engine.close();
  // The segments the failed checkpoint covered are still on disk: replayed over the base's copy.
  expect(fs.readdirSync(dir).length).toBeGreaterThan(0);
  expect(acknowledged.length).toBeGreaterThan(15);
  const again = await LoggedEngine.open(dir, base.snapshot());
  for (const key of acknowledged) expect(text(again.get(key))).toBe(key.padEnd(60, '.'));
  await again.close();
});

/** The state after the first `k` writes of `issued`, over `from`. */
function applied(from: Map<string, string>, issued: readonly (readonly WriteOp[])[], k: number): Map<string, string> {
  const m = new Map(from);
  for (const ops of issued.slice(0, k)) for (const op of ops) if (op.type === 'put') m.set(op.key, text(op.value) as string); else m.delete(op.key);
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function run(seed: number, steps: number): Promise<void> {
  let x = seed;
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * n);
  };
  let dir = tempDir();
  let base = new MemoryEngine();
  let engine = await LoggedEngine.open(dir, base, small);
  let baseline = new Map<string, string>();
  let issued: WriteOp[][] = [];
  let acked = 0;
  let promises: Promise<void>[] = [];
  const key = (): string => `k${String(rand(30)).padStart(2, '0')}`;
  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const r = rand(100);
    if (r < 55) {
      const ops: WriteOp[] = Array.from({ length: rand(12) === 0 ? 0 : 1 + rand(3) }, () => (rand(5) === 0 ? { type: 'del', key: key() } : { type: 'put', key: key(), value: bytes(`${step}:`.padEnd(rand(300), 'x')) }));
      const n = issued.push(ops);
      promises.push(engine.write(ops).then(() => {
        acked = Math.max(acked, n);
      }));
    } else if (r < 65) {
      await Promise.all(promises);
      promises = [];
    } else if (r < 80) {
      await new Promise((res) => setImmediate(res));
    } else if (r < 92) {
      // Reads see every write issued, in flight or not.
      const all = applied(baseline, issued, issued.length);
      const [lo, hi] = [key(), key()].sort() as [string, string];
      expect({ where, got: [...engine.range({ gte: lo, lt: hi })].map((e) => [e.key, text(e.value)]) }).toEqual({ where, got: [...all].filter(([k]) => k >= lo && k < hi) });
      const k = key();
      expect({ where, k, got: text(engine.get(k)) }).toEqual({ where, k, got: all.get(k) });
    } else {
      const synced = engine.stats.syncedBytes;
      const newest = path.basename(engine.stats.segmentFiles.at(-1) as string);
      const crash = crashCopy(dir, base);
      const ackedAtCrash = acked;
      // Whatever was written past the last sync may be lost from any byte on.
      const file = path.join(crash.dir, newest);
      const size = fs.statSync(file).size;
      const cut = synced + rand(Math.max(1, Math.min(size, synced + 3000) - synced));
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(size - cut), 0, size - cut, cut);
      fs.closeSync(fd);
      await engine.close().catch(() => undefined);
      await Promise.all(promises).catch(() => undefined);
      promises = [];
      dir = crash.dir;
      base = crash.base;
      engine = await LoggedEngine.open(dir, base, small);
      const got = contents(engine);
      let k = -1;
      for (let i = issued.length; i >= ackedAtCrash && k < 0; i--) if (JSON.stringify([...applied(baseline, issued, i)]) === JSON.stringify([...got])) k = i;
      expect({ where, recoveredAPrefixOfAtLeast: ackedAtCrash, found: k >= ackedAtCrash }).toEqual({ where, recoveredAPrefixOfAtLeast: ackedAtCrash, found: true });
      baseline = got;
      issued = [];
      acked = 0;
    }
  }
  await Promise.all(promises);
  const want = applied(baseline, issued, issued.length);
  await engine.close();
  const again = await LoggedEngine.open(dir, base.snapshot(), small);
  expect({ seed, got: contents(again) }).toEqual({ seed, got: want });
  await again.close();
}

test('seeded runs with crashes: every crash recovers a prefix of the writes that holds every acknowledged one', async () => {
  for (let seed = 1; seed <= 25; seed++) await run(seed, 160);
}, 120_000);

test('memtables keep the engines\' key order (code points) when keys above U+FFFF meet keys from U+E000 up (seeded)', async () => {
  const seed = 7741;
  let s = seed;
  const rand = (n: number): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % n;
  };
  // JavaScript's `<` puts U+1F600 (a surrogate pair) before U+FF5E; code points, and UTF-8, after.
  const units = ['a', 'b', '\u00e9', '\uff5e', '\ud83d\ude00'];
  const key = (): string => Array.from({ length: 1 + rand(3) }, () => units[rand(units.length)]).join('');
  const byCodePoints = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const top = '\u{10ffff}'; // above every key
  const dir = tempDir();
  const base = new MemoryEngine();
  // Small memtables: reads merge the active one, frozen ones and the base.
  const engine = await LoggedEngine.open(dir, base, { segmentBytes: 1 << 16, memtableBytesMax: 600 });
  const expected = new Map<string, string>();
  // ASCII and Latin keys first (the memtable compares with `<`), then every kind.
  for (let i = 0; i < 400; i++) {
    const k = i < 100 ? key().replace(/[\uff5e\ud83d\ude00]/g, 'a') : key();
    expected.set(k, `v${i}`);
    await engine.write([{ type: 'put', key: k, value: bytes(`v${i}`) }]);
    if (i % 50 === 49) {
      const got = [...engine.range({ gte: '', lt: top })].map((x) => x.key);
      expect({ seed, step: i, keys: got }).toEqual({ seed, step: i, keys: [...expected.keys()].sort(byCodePoints) });
      const from = key();
      const within = [...engine.range({ gte: from, lt: top })].map((x) => x.key);
      expect({ seed, step: i, from, keys: within }).toEqual({ seed, step: i, from, keys: [...expected.keys()].filter((x) => byCodePoints(x, from) >= 0).sort(byCodePoints) });
    }
  }
  for (const [k, v] of expected) expect({ seed, k, v: text(engine.get(k)) }).toEqual({ seed, k, v });
  expect(engine.stats.checkpoints).toBeGreaterThan(2);
  // A crash now: the log's replay builds a memtable of every kind of key too.
  const crashed = crashCopy(dir, base);
  await engine.close();
  const reopened = await LoggedEngine.open(crashed.dir, crashed.base, { segmentBytes: 1 << 16, memtableBytesMax: 600 });
  expect({ seed, keys: [...reopened.range({ gte: '', lt: top })].map((x) => x.key) }).toEqual({ seed, keys: [...expected.keys()].sort(byCodePoints) });
  await reopened.close();
});
