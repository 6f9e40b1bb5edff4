// The authoritative log's write-ahead file: records come back in order across restarts and
// segments, a torn last record is dropped (and only that), an older segment that does not hold
// refuses to open, and segments a snapshot covers go without losing the latest hard state.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asNodeId, Entry, HardState } from '../../services/core/consensus';
import { RaftWal, WalRecord } from '../../services/node/authority/RaftWal';

const n1 = asNodeId('n1');
const n2 = asNodeId('n2');
const entry = (index: number, term: number, size = 8): Entry => ({ index, term, kind: 'normal', data: new Uint8Array(size).fill(index & 255) });
const hs = (term: number, commit: number): HardState => ({ term, vote: term % 2 === 0 ? n2 : n1, commit });

let dir: string;
const opened: RaftWal[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-wal-'));
});
afterEach(() => {
  opened.splice(0).forEach((w) => w.close());
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(segmentBytes?: number): { wal: RaftWal; records: WalRecord[] } {
  const o = RaftWal.open(dir, segmentBytes);
  opened.push(o.wal);
  return o;
}

function reopen(wal: RaftWal, segmentBytes?: number): { wal: RaftWal; records: WalRecord[] } {
  wal.close();
  return open(segmentBytes);
}

test('records come back in order with their entries, hard state and snapshot mark', () => {
  const { wal, records } = open();
  expect(records).toEqual([]);
  const written: WalRecord[] = [
    { entries: [entry(1, 1), entry(2, 1)], hardState: hs(1, 0) },
    { entries: [entry(3, 1)] },
    { entries: [], hardState: hs(2, 3) },
    { entries: [], snapshot: { index: 9, term: 2 }, hardState: hs(2, 9) },
  ];
  written.forEach((r) => wal.append(r));
  expect(reopen(wal).records).toEqual(written);
});

test('appendIfFits writes on this thread while the record fits the segment; past it, nothing, and appendOffThread rolls over', async () => {
  let { wal } = open(1024);
  const written: WalRecord[] = [{ entries: [entry(1, 1, 100)], hardState: hs(1, 0) }];
  expect(wal.appendIfFits(written[0] as WalRecord)).toBe(true);
  expect(wal.rollovers).toBe(0);
  // In the file when it returns: read back without awaiting anything.
  const first = reopen(wal, 1024);
  expect(first.records).toEqual(written);
  wal = first.wal;
  const contents = (): string[] => fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f)).toString('hex'));
  let index = 2;
  for (;;) {
    const r: WalRecord = { entries: [entry(index, 1, 100)] };
    const segments = wal.segmentFiles.length;
    const before = contents();
    if (!wal.appendIfFits(r)) {
      // Refused: no new segment, not a byte changed.
      expect(wal.segmentFiles).toHaveLength(segments);
      expect(contents()).toEqual(before);
      await wal.appendOffThread(r);
      expect(wal.segmentFiles).toHaveLength(segments + 1);
      expect(wal.rollovers).toBe(1);
      written.push(r);
      break;
    }
    written.push(r);
    index++;
  }
  // About eight records of 100-byte entries fill a 1 KiB segment, which never grows past its size.
  expect(index).toBeGreaterThan(3);
  expect(index).toBeLessThan(12);
  expect(fs.readdirSync(dir).map((f) => fs.statSync(path.join(dir, f)).size)).toEqual([1024, 1024]);
  expect(wal.appendIfFits({ entries: [entry(index + 1, 1, 100)] })).toBe(true);
  written.push({ entries: [entry(index + 1, 1, 100)] });
  // The new segment begins with the latest hard state; every entry came back once, in order.
  const back = reopen(wal, 1024).records;
  expect(back.filter((r) => r.entries.length > 0)).toEqual(written);
  expect(back.flatMap((r) => r.entries.map((e) => e.index))).toEqual(Array.from({ length: index + 1 }, (_, i) => i + 1));
});

// On the thread pool (a running node) or on this thread (while the log opens), alike.
test.each(['appendOffThread', 'append'] as const)('%s: a full segment rolls over to one that begins with the latest hard state; covered segments go, never the newest', async (how) => {
  let { wal } = open(1024);
  const append = async (r: WalRecord): Promise<void> => (how === 'append' ? wal.append(r) : wal.appendOffThread(r));
  await append({ entries: [], hardState: hs(1, 0) });
  for (let i = 1; i <= 40; i++) await append({ entries: [entry(i, 1, 100)] });
  const segments = wal.segmentFiles.length;
  expect(segments).toBeGreaterThan(3);
  // One record bigger than a segment gets a segment of its own size.
  await append({ entries: [entry(41, 1, 5000)], hardState: hs(3, 40) });
  expect(wal.segmentFiles).toHaveLength(segments + 1);
  await append({ entries: [entry(42, 3)] });
  // Entries up to 20 are covered: only whole segments at or below it go, oldest first.
  const dropped = wal.dropThrough(20);
  expect(dropped).toBeGreaterThan(0);
  // The files go on the thread pool, oldest first; the list is the log's at once.
  expect(fs.readdirSync(dir)).toHaveLength(wal.segmentFiles.length + dropped);
  await wal.idle();
  expect(fs.readdirSync(dir).sort()).toEqual(wal.segmentFiles.map((f) => path.basename(f)));
  const again = reopen(wal, 1024);
  wal = again.wal;
  const indexes = again.records.flatMap((r) => r.entries.map((e) => e.index));
  expect(indexes[0]).toBeLessThanOrEqual(21);
  expect(indexes.at(-1)).toBe(42);
  expect(again.records.filter((r) => r.hardState !== undefined).at(-1)?.hardState).toEqual(hs(3, 40));
  // Everything covered: all but the segment being written go, and the hard state stays.
  wal.dropThrough(1000);
  expect(wal.segmentFiles).toHaveLength(1);
  await wal.idle();
  const last = reopen(wal, 1024);
  expect(last.records.filter((r) => r.hardState !== undefined).at(-1)?.hardState).toEqual(hs(3, 40));
  expect(last.records.flatMap((r) => r.entries.map((e) => e.index))).toEqual([42]);
});

test('a crash inside the last record, at every byte, drops that record only; the next append and restart work', () => {
  const seed = 20261127;
  const { wal } = open(4096);
  wal.append({ entries: [entry(1, 1)], hardState: hs(1, 0) });
  wal.append({ entries: [entry(2, 1), entry(3, 1)] });
  wal.close();
  const file = path.join(dir, fs.readdirSync(dir)[0] as string);
  const whole = fs.readFileSync(file);
  const firstEnd = 8 + whole.readUInt32LE(0);
  const secondEnd = firstEnd + 8 + whole.readUInt32LE(firstEnd);
  // A crash leaves a prefix of the record's bytes (the rest still zero), or garbage in them.
  let x = seed;
  const rand = (): number => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let cut = firstEnd + 1; cut < secondEnd; cut++) {
    for (const garbage of [false, true]) {
      const torn = Buffer.from(whole);
      for (let i = cut; i < secondEnd; i++) torn[i] = garbage ? Math.floor(rand() * 256) : 0;
      if (garbage && torn.subarray(cut, secondEnd).equals(whole.subarray(cut, secondEnd))) continue;
      fs.writeFileSync(file, torn);
      const o = RaftWal.open(dir, 4096);
      try {
        expect([seed, cut, garbage, o.records]).toEqual([seed, cut, garbage, [{ entries: [entry(1, 1)], hardState: hs(1, 0) }]]);
        o.wal.append({ entries: [entry(2, 2)] });
      } finally {
        o.wal.close();
      }
      const after = RaftWal.open(dir, 4096);
      after.wal.close();
      expect([seed, cut, garbage, after.records.map((r) => r.entries)]).toEqual([seed, cut, garbage, [[entry(1, 1)], [entry(2, 2)]]]);
    }
  }
});

test('a record that does not hold in a segment before the newest refuses to open', () => {
  const { wal } = open(512);
  for (let i = 1; i <= 20; i++) wal.append({ entries: [entry(i, 1, 100)] });
  wal.close();
  const oldest = wal.segmentFiles[0] as string;
  const bytes = fs.readFileSync(oldest);
  bytes[10] = (bytes[10] as number) ^ 0xff;
  fs.writeFileSync(oldest, bytes);
  expect(() => RaftWal.open(dir, 512)).toThrow(/corrupt at byte 0/);
});

test('a bad record with records after it in the newest segment refuses to open instead of dropping them', () => {
  const { wal } = open(4096);
  for (let i = 1; i <= 3; i++) wal.append({ entries: [entry(i, 1)] });
  wal.close();
  const file = wal.segmentFiles[0] as string;
  const bytes = fs.readFileSync(file);
  bytes[12] = (bytes[12] as number) ^ 0xff; // inside the first record's payload
  fs.writeFileSync(file, bytes);
  expect(() => RaftWal.open(dir, 4096)).toThrow(/corrupt at byte 0: a record that does not hold is followed by data/);
});

test('bytes past the end (a record whose length never reached the disk) are zeroed on open', () => {
  const { wal } = open(4096);
  wal.append({ entries: [entry(1, 1)], hardState: hs(1, 0) });
  wal.close();
  const file = wal.segmentFiles[0] as string;
  const bytes = fs.readFileSync(file);
  const end = 8 + bytes.readUInt32LE(0);
  bytes.fill(0x5a, end + 8, end + 40); // a payload without its header
  fs.writeFileSync(file, bytes);
  const again = open(4096);
  expect(again.records).toEqual([{ entries: [entry(1, 1)], hardState: hs(1, 0) }]);
  expect(fs.readFileSync(file).subarray(end).every((b) => b === 0)).toBe(true);
  // A short record there is read back alone.
  again.wal.append({ entries: [entry(2, 1, 1)] });
  expect(reopen(again.wal, 4096).records.map((r) => r.entries)).toEqual([[entry(1, 1)], [entry(2, 1, 1)]]);
});

test('a segment a crash left without its leading hard state gets it on open, so older segments can go', async () => {
  const { wal } = open(4096);
  wal.append({ entries: [entry(1, 1)], hardState: hs(2, 1) });
  wal.close();
  // The next segment was created, but its head never reached the disk.
  fs.writeFileSync(path.join(dir, '0000000000000002.wal'), Buffer.alloc(4096));
  const again = open(4096);
  again.wal.append({ entries: [entry(2, 2)] });
  expect(again.wal.dropThrough(1)).toBe(1);
  await again.wal.idle();
  const last = reopen(again.wal, 4096);
  expect(last.records.filter((r) => r.hardState !== undefined).at(-1)?.hardState).toEqual(hs(2, 1));
  expect(last.records.flatMap((r) => r.entries)).toEqual([entry(2, 2)]);
});

test('an off-thread append is durable when it resolves, one at a time, and close waits for its sync', async () => {
  const { wal } = open();
  const first = wal.appendOffThread({ entries: [entry(1, 1)], hardState: hs(1, 0) });
  // The ready loop is serial: a second append while the first syncs is a bug, not a queue.
  expect(() => wal.append({ entries: [entry(2, 1)] })).toThrow(/still syncing/);
  await expect(wal.appendOffThread({ entries: [entry(2, 1)] })).rejects.toThrow(/still syncing/);
  await first;
  await wal.appendOffThread({ entries: [entry(2, 1)] });
  // Closing under a sync in flight closes the file after it: the sync neither fails nor lands
  // on a file descriptor reused meanwhile.
  const last = wal.appendOffThread({ entries: [entry(3, 1)], hardState: hs(1, 2) });
  wal.close();
  await expect(last).resolves.toBeUndefined();
  const again = open();
  expect(again.records.flatMap((r) => r.entries)).toEqual([entry(1, 1), entry(2, 1), entry(3, 1)]);
  expect(again.records.filter((r) => r.hardState !== undefined).at(-1)?.hardState).toEqual(hs(1, 2));
});

test('close under an off-thread append that starts a new segment: the append lands, and a reopen reads it', async () => {
  const { wal } = open(1024);
  await wal.appendOffThread({ entries: [entry(1, 1, 900)], hardState: hs(1, 0) });
  const last = wal.appendOffThread({ entries: [entry(2, 1, 900)] });
  wal.close();
  await expect(last).resolves.toBeUndefined();
  expect(wal.segmentFiles).toHaveLength(2);
  const again = open(1024);
  expect(again.records.flatMap((r) => r.entries.map((e) => e.index))).toEqual([1, 2]);
  expect(again.records.filter((r) => r.hardState !== undefined).at(-1)?.hardState).toEqual(hs(1, 0));
});

test('a segment file that cannot be deleted: none after it goes, and the next append fails', async () => {
  const { wal } = open(1024);
  for (let i = 1; i <= 20; i++) await wal.appendOffThread({ entries: [entry(i, 1, 300)] });
  const files = wal.segmentFiles;
  expect(wal.dropThrough(9)).toBeGreaterThanOrEqual(2);
  // Before its deletion runs, the oldest becomes a directory that rm refuses.
  const stuck = files[0] as string;
  fs.rmSync(stuck);
  fs.mkdirSync(stuck);
  fs.writeFileSync(path.join(stuck, 'x'), 'x');
  await wal.idle();
  expect(wal.removeFailure).toBeDefined();
  expect(fs.existsSync(files[1] as string)).toBe(true);
  wal.dropThrough(1000);
  await wal.idle();
  expect(files.slice(1).every((f) => fs.existsSync(f))).toBe(true);
  await expect(wal.appendOffThread({ entries: [entry(21, 1)] })).rejects.toThrow(stuck.split(path.sep).at(-1));
  expect(() => wal.append({ entries: [entry(21, 1)] })).toThrow();
});

/** The open flags of this process's descriptors on `file` (Linux: /proc). */
function openFlags(file: string): number[] {
  return fs.readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== file) return [];
      const line = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'));
      return line === undefined ? [] : [parseInt(line.split(/\s+/)[1] as string, 8)];
    } catch {
      return []; // closed meanwhile
    }
  });
}

test('the segment records go into is open O_DSYNC (a write is durable when it returns): new, rolled over on either path, and reopened', async () => {
  const dsync = (): number[] => openFlags(wal.segmentFiles.at(-1) as string).map((f) => f & fs.constants.O_DSYNC);
  let { wal } = open(1024);
  expect(dsync()).toEqual([fs.constants.O_DSYNC]);
  await wal.appendOffThread({ entries: [entry(1, 1, 2000)], hardState: hs(1, 0) });
  expect(wal.segmentFiles).toHaveLength(2);
  expect(dsync()).toEqual([fs.constants.O_DSYNC]);
  wal.append({ entries: [entry(2, 1, 2000)] });
  expect(wal.segmentFiles).toHaveLength(3);
  expect(dsync()).toEqual([fs.constants.O_DSYNC]);
  wal = reopen(wal, 1024).wal;
  expect(dsync()).toEqual([fs.constants.O_DSYNC]);
});

test('an append after close throws instead of losing the record', () => {
  const { wal } = open();
  wal.close();
  expect(() => wal.append({ entries: [entry(1, 1)] })).toThrow(/closed/);
});
