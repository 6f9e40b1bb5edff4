// The bound on a watch stream's waiting answers: live answers past the bound end the stream; a
// replayed answer is exempt only while it waits (a finished replay leaves no slack behind) and
// only up to exemptQueueMax of them; the stream's own answers count as live.
import { exemptQueueMax, WatchQueue, WatchSendSide } from '../../services/rpc/WatchQueue';

/** A send side whose writes wait until `send(n)` hands the oldest n to the network. */
function fakeSide(): WatchSendSide<number> & { send(n?: number): void } {
  const waiting: (() => void)[] = [];
  return {
    write: (_m, done) => {
      waiting.push(done);
      return waiting.length < 16;
    },
    get writableLength() {
      return waiting.length;
    },
    send: (n = Infinity) => {
      for (let i = 0; i < n && waiting.length > 0; i++) (waiting.shift() as () => void)();
    },
  };
}

test('live answers past the bound say the stream is full', () => {
  const side = fakeSide();
  const q = new WatchQueue(side, 5);
  const full = Array.from({ length: 7 }, (_, i) => q.write(i, false));
  expect(full).toEqual([false, false, false, false, false, true, true]);
  side.send(3);
  expect(q.write(8, false)).toBe(false); // 4 waiting + 1
  expect(q.waiting).toBe(5);
});

test('a replay is exempt while it waits, and leaves no slack once sent', () => {
  const side = fakeSide();
  const q = new WatchQueue(side, 5);
  for (let i = 0; i < 1000; i++) expect(q.write(i, true)).toBe(false);
  expect(q.write(-1, false)).toBe(false); // 1 live on top of 1,000 replayed
  side.send(); // the client read everything
  const full = Array.from({ length: 7 }, (_, i) => q.write(i, false));
  expect(full).toEqual([false, false, false, false, false, true, true]);
});

test('exempt answers are exempt up to exemptQueueMax waiting, then count', () => {
  const side = fakeSide();
  const q = new WatchQueue(side, 5);
  let firstFull = -1;
  for (let i = 0; i < exemptQueueMax + 10 && firstFull < 0; i++) if (q.write(i, true)) firstFull = i;
  expect(firstFull).toBe(exemptQueueMax + 5);
});

test('a bound must be a positive integer', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new WatchQueue(fakeSide(), bad)).toThrow(RangeError);
});

test('full past the bound whatever the kind; onRoom once half the bound is free', () => {
  const side = fakeSide();
  let room = 0;
  const q = new WatchQueue(side, 10, () => room++);
  for (let i = 0; i < 11; i++) q.write(i, true);
  expect(q.full).toBe(true);
  side.send(5);
  expect([q.full, room]).toEqual([false, 0]); // 6 wait
  side.send(1);
  expect(room).toBe(1); // 5 wait: half the bound
});
