import { DocumentCache } from '../../services/node/DocumentCache';

interface Doc {
  readonly bytes: number;
  busy: boolean;
}

function cache(documentsMax: number, weightMax = Infinity): { c: DocumentCache<Doc>; evicted: string[] } {
  const evicted: string[] = [];
  const c = new DocumentCache<Doc>({
    documentsMax,
    weightMax,
    weight: (d) => d.bytes,
    evictable: (d) => !d.busy,
    onEvict: (id) => evicted.push(id),
  });
  return { c, evicted };
}

const doc = (bytes = 1): Doc => ({ bytes, busy: false });
const ids = (c: DocumentCache<Doc>): string[] => [...c.all()].map(([id]) => id);

describe('DocumentCache', () => {
  it('evicts the least recently used entry', () => {
    const { c, evicted } = cache(3);
    for (const id of ['a', 'b', 'c']) c.add(id, doc());
    expect(c.get('a')?.bytes).toBe(1);
    expect(ids(c)).toEqual(['b', 'c', 'a']);
    c.add('d', doc());
    expect(evicted).toEqual(['b']);
    expect(ids(c)).toEqual(['c', 'a', 'd']);
  });

  it('does not move an entry used while in the younger half; moves one from the older half', () => {
    const { c } = cache(10);
    const all = Array.from({ length: 10 }, (_, i) => `d${i}`);
    for (const id of all) c.add(id, doc());
    c.get('d9');
    c.get('d5');
    expect(ids(c)).toEqual(all);
    c.get('d4');
    expect(ids(c)).toEqual([...all.filter((id) => id !== 'd4'), 'd4']);
  });

  it('an entry used while in the younger half outlives the entries not used since', () => {
    const { c, evicted } = cache(10);
    for (let i = 0; i < 10; i++) c.add(`d${i}`, doc());
    c.get('d6'); // not moved: 3 moves since its own
    for (let i = 10; i < 15; i++) c.add(`d${i}`, doc());
    expect(evicted).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    // Now in the older half: a use moves it.
    c.get('d6');
    for (let i = 15; i < 19; i++) c.add(`d${i}`, doc());
    expect(evicted).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd7', 'd8', 'd9']);
    expect(c.peek('d6')).toBeDefined();
  });

  it('peek does not move', () => {
    const { c, evicted } = cache(2);
    c.add('a', doc());
    c.add('b', doc());
    expect(c.peek('a')?.bytes).toBe(1);
    c.add('c', doc());
    expect(evicted).toEqual(['a']);
    expect(c.peek('zz')).toBeUndefined();
    expect(c.get('zz')).toBeUndefined();
  });

  it('keeps entries that are not evictable, past the bounds, and evicts them once idle', () => {
    const { c, evicted } = cache(2);
    const a = doc();
    const b = doc();
    a.busy = true;
    b.busy = true;
    c.add('a', a);
    c.add('b', b);
    c.add('c', doc());
    expect(evicted).toEqual([]);
    expect(c.size).toBe(3);
    a.busy = false;
    c.trim();
    expect(evicted).toEqual(['a']);
    expect(ids(c)).toEqual(['b', 'c']);
  });

  it('bounds the total weight too, counting reweighed entries', () => {
    const { c, evicted } = cache(100, 10);
    c.add('a', doc(4));
    c.add('b', doc(4));
    c.add('c', doc(4));
    expect(evicted).toEqual(['a']);
    expect(c.weight).toBe(8);
    c.reweigh(5); // 'c' grew by 5 while held
    c.trim();
    expect(evicted).toEqual(['a', 'b']);
    expect(c.weight).toBe(9);
    expect(c.evicted).toBe(2);
  });

  it('stays within its bounds over a long random run (seeded), evicting only idle entries', () => {
    const seed = 20261128;
    let s = seed;
    const rand = (n: number): number => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s % n;
    };
    const { c } = cache(20, 60);
    const busy = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = `d${rand(100)}`;
      const op = rand(10);
      if (op < 5) c.get(id);
      else if (op < 8 && c.peek(id) === undefined) c.add(id, doc(1 + rand(5)));
      else if (op === 8 && c.peek(id) !== undefined && busy.size < 3) {
        (c.peek(id) as Doc).busy = true;
        busy.add(id);
      } else if (busy.size > 0) {
        const b = [...busy][0] as string;
        busy.delete(b);
        const d = c.peek(b);
        if (d !== undefined) d.busy = false;
        c.trim();
      }
      for (const b of busy) if (c.peek(b) === undefined) throw new Error(`seed ${seed}: busy ${b} was evicted at step ${i}`);
      const idle = [...c.all()].filter(([, d]) => !d.busy);
      if (idle.length > 0 && c.size > 20 + busy.size) throw new Error(`seed ${seed}: ${c.size} entries at step ${i}`);
    }
  });
});
