// A range is covered by a set of granted ranges exactly when no key of it lies outside all of
// them: checked against brute force over every short key and every range end (where the first
// uncovered key of a range that is not covered always lies), for single keys, prefixes, open
// and other ranges.
import { keyRangeCovered, KeyRange } from '../../../services/core/access/KeyRange';
import { prefixRangeEnd } from '../../../services/core/kv/prefixRangeEnd';
import { makePrng, Prng } from '../../sim/prng';

// '\u0000' sorts first and ends a single key's range; '\uffff' has no successor in a prefix end.
const units = ['a', 'b', '\u0000', '\uffff'];
const shortKeys: string[] = [''];
for (let len = 1; len <= 3; len++) for (const k of shortKeys.filter((s) => s.length === len - 1)) for (const u of units) shortKeys.push(k + u);

function inRange(k: string, r: KeyRange): boolean {
  if (r.rangeEnd === '\u0000') return k >= r.key;
  if (r.rangeEnd === '' || r.rangeEnd <= r.key) return k === r.key;
  return k >= r.key && k < r.rangeEnd;
}

function randomRange(p: Prng): KeyRange {
  const key = p.pick(shortKeys.filter((k) => k.length <= 2));
  const r = p.next();
  if (r < 0.25) return { key, rangeEnd: '' };
  if (r < 0.35) return { key, rangeEnd: '\u0000' };
  if (r < 0.7 && key !== '') return { key, rangeEnd: prefixRangeEnd(key) };
  if (r < 0.8) return { key, rangeEnd: p.pick(shortKeys) || 'a' }; // may end at or before the key: its first key alone
  const after = shortKeys.filter((k) => k > key);
  return { key, rangeEnd: after.length === 0 ? '\u0000' : p.pick(after) };
}

test('covered exactly when every key of the range lies in some granted range (seeded)', () => {
  let covered = 0;
  for (let seed = 1; seed <= 500; seed++) {
    const p = makePrng(seed);
    const granted = Array.from({ length: p.int(5) }, () => randomRange(p));
    const want = randomRange(p);
    const ends = [...granted, want].flatMap((r) => [r.key, `${r.key}\u0000`, r.rangeEnd]);
    const uncovered = [...shortKeys, ...ends].find((k) => inRange(k, want) && !granted.some((g) => inRange(k, g)));
    const where = `seed ${seed} (replay: this test loops over seeds 1..500): granted ${JSON.stringify(granted)}, want ${JSON.stringify(want)}, uncovered key ${JSON.stringify(uncovered)}`;
    expect([where, keyRangeCovered(granted, want)]).toEqual([where, uncovered === undefined]);
    if (uncovered === undefined) covered++;
  }
  // Both answers are exercised.
  expect(covered).toBeGreaterThan(30);
  expect(covered).toBeLessThan(450);
});

test('ranges cover together what none covers alone; open ranges need an open grant', () => {
  const ab = { key: 'a', rangeEnd: 'b' };
  const bc = { key: 'b', rangeEnd: 'c' };
  expect(keyRangeCovered([ab, bc], { key: 'a', rangeEnd: 'c' })).toBe(true);
  expect(keyRangeCovered([ab], { key: 'a', rangeEnd: 'c' })).toBe(false);
  expect(keyRangeCovered([ab, { key: 'b0', rangeEnd: 'c' }], { key: 'a', rangeEnd: 'c' })).toBe(false); // "b" itself is in no grant
  expect(keyRangeCovered([{ key: 'a', rangeEnd: 'zzz' }], { key: 'a', rangeEnd: '\u0000' })).toBe(false);
  expect(keyRangeCovered([{ key: '', rangeEnd: '\u0000' }], { key: 'x', rangeEnd: '\u0000' })).toBe(true);
  expect(keyRangeCovered([], { key: 'a', rangeEnd: '' })).toBe(false);
  expect(keyRangeCovered([{ key: 'a', rangeEnd: '' }], { key: 'a', rangeEnd: '' })).toBe(true);
  expect(keyRangeCovered([{ key: 'a', rangeEnd: '' }], { key: 'a', rangeEnd: 'a\u0000\u0000' })).toBe(false);
});
