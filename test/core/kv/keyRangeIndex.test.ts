// The index of watched key ranges answers "which ranges hold this key" exactly as checking every
// range would (the watch rule of KvWatchHub), for prefix, open and other ranges, as members come
// and go; prefix ranges are found by lookup, including the edges of etcd's prefix end (trailing
// U+FFFF, keys ending in a surrogate).
import { KeyRangeIndex } from '../../../services/core/kv/KeyRangeIndex';
import { prefixRangeEnd } from '../../../services/core/kv/prefixRangeEnd';
import { watches } from '../../../services/node/authority/KvWatchHub';
import { makePrng, Prng } from '../../sim/prng';

const units = ['a', 'b', 'c', '\uffff', '\ud83d', '\ude00', '\u0000', 'é'];
const randomKey = (p: Prng, max = 4): string => Array.from({ length: p.int(max + 1) }, () => p.pick(units)).join('');

function randomRange(p: Prng): { key: string; rangeEnd: string } {
  const key = randomKey(p);
  const r = p.next();
  if (r < 0.5) {
    try {
      return { key, rangeEnd: prefixRangeEnd(key) };
    } catch {
      return { key, rangeEnd: '\u0000' };
    }
  }
  if (r < 0.7) return { key, rangeEnd: '\u0000' };
  return { key, rangeEnd: randomKey(p) || 'b' }; // may be empty (end <= key): holds nothing
}

test('holds exactly the members a check of every range finds, as ranges come and go (seeded)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const p = makePrng(seed);
    const where = `seed ${seed} (replay: this test loops over seeds 1..40)`;
    const index = new KeyRangeIndex<number>();
    const live = new Map<number, { key: string; rangeEnd: string }>();
    let next = 0;
    for (let step = 0; step < 400; step++) {
      if (live.size > 0 && p.chance(0.35)) {
        const id = p.pick([...live.keys()]);
        const r = live.get(id) as { key: string; rangeEnd: string };
        index.delete(r.key, r.rangeEnd, id);
        live.delete(id);
        index.delete(r.key, r.rangeEnd, id); // twice: nothing happens
      } else {
        const r = randomRange(p);
        live.set(next, r);
        index.add(r.key, r.rangeEnd, next++);
      }
      expect([where, step, index.size]).toEqual([where, step, live.size]);
      for (let q = 0; q < 5; q++) {
        const key = randomKey(p, 5);
        const want = [...live].filter(([, r]) => watches(r, key)).map(([id]) => id).sort((a, b) => a - b);
        const got: number[] = [];
        index.forEachHolding(key, (m) => got.push(m));
        got.sort((a, b) => a - b);
        expect([where, step, JSON.stringify(key), got]).toEqual([where, step, JSON.stringify(key), want]);
      }
    }
    expect([where, [...index.all()].sort((a, b) => a - b)]).toEqual([where, [...live.keys()].sort((a, b) => a - b)]);
  }
});

test('prefix ranges hold the keys that start with the prefix, at the edges of the prefix end', () => {
  const index = new KeyRangeIndex<string>();
  index.add('a\uffff', prefixRangeEnd('a\uffff'), 'a-ffff'); // end 'b': trailing U+FFFF dropped
  index.add('ab', prefixRangeEnd('ab'), 'ab');
  index.add('ab', prefixRangeEnd('ab'), 'ab'); // the same member twice counts once
  index.add('x\ud83d', 'x\ud83e', 'lone high surrogate'); // no prefix end exists: checked as a range
  index.add('', '\u0000', 'everything');
  expect(index.size).toBe(4);
  const holding = (key: string): string[] => {
    const got: string[] = [];
    index.forEachHolding(key, (m) => got.push(m));
    return got.sort();
  };
  expect(holding('a\uffff')).toEqual(['a-ffff', 'everything']);
  expect(holding('a\uffff\uffffz')).toEqual(['a-ffff', 'everything']);
  expect(holding('a\ufffe')).toEqual(['everything']);
  expect(holding('abc')).toEqual(['ab', 'everything']);
  expect(holding('a')).toEqual(['everything']);
  expect(holding('x\ud83d\ude00')).toEqual(['everything', 'lone high surrogate']);
  expect(() => index.add('k', '', 'single key')).toThrow(RangeError);
});
