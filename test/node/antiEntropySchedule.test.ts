// Periodic anti-entropy runs on every tick while some link is in trouble, and only as a safety
// net (every 8th tick) once every link has been healthy for 10 s.
import { AntiEntropySchedule } from '../../services/node/AntiEntropySchedule';

const runs = (s: AntiEntropySchedule, fromMs: number, ticks: number, healthy: boolean): number[] => {
  const out: number[] = [];
  for (let i = 0; i < ticks; i++) if (s.tick(fromMs + i * 2000, healthy)) out.push(i);
  return out;
};

test('every tick runs while a link is unreachable or dropping updates', () => {
  const s = new AntiEntropySchedule(10_000, 8);
  expect(runs(s, 0, 20, false)).toHaveLength(20);
});

test('healthy links: every tick for the first 10 s, then one tick in eight', () => {
  const s = new AntiEntropySchedule(10_000, 8);
  const ran = runs(s, 0, 45, true);
  // Ticks at 0..8 s are within the first 10 s; after that, one in eight.
  expect(ran.filter((i) => i < 5)).toEqual([0, 1, 2, 3, 4]);
  const later = ran.filter((i) => i >= 5);
  expect(later.length).toBe(5);
  for (let k = 1; k < later.length; k++) expect((later[k] as number) - (later[k - 1] as number)).toBe(8);
});

test('one unhealthy tick brings back every tick, and the calm clock starts over', () => {
  const s = new AntiEntropySchedule(10_000, 8);
  runs(s, 0, 30, true);
  expect(s.tick(60_000, false)).toBe(true);
  expect(runs(s, 62_000, 5, true)).toEqual([0, 1, 2, 3, 4]);
});
