// The node's KV watches behind one revision listener: a watch on a key sees that key's events
// only (found by key, without asking the other watches), a range sees its range, both in the
// revision's order; range watches are found through an index, so an event does not look at the
// ranges that cannot hold its key; one quorum check ends every watch after two failures in a row, and the
// hub lets go of the node when its last watch leaves.
import { storedValue } from '../../services/core/kv/storedValue';
import { KvEvent } from '../../services/core/kv/types';
import { KvWatcher, KvWatchHub, KvWatchSource } from '../../services/node/authority/KvWatchHub';

const put = (key: string, rev: number): KvEvent =>
  ({ type: 'put', kv: { key, value: storedValue(new Uint8Array([rev])), createRevision: rev, modRevision: rev, version: 1, lease: 0 } }) as KvEvent;

function fakeSource(): KvWatchSource & { emit(rev: number, events: KvEvent[]): void; listeners: number; reachable: boolean } {
  const ls = new Set<(r: number, e: readonly KvEvent[]) => void>();
  return {
    reachable: true,
    get listeners() { return ls.size; },
    onRevision(l) { ls.add(l); return () => ls.delete(l); },
    assertQuorumReachable() { if (!this.reachable) throw new Error('no majority'); },
    emit(rev, events) { ls.forEach((l) => l(rev, events)); },
  };
}

function fakeTimers(): { setInterval: (fn: () => void) => unknown; clearInterval: (h: unknown) => void; tick(): void; active: number } {
  const fns = new Map<number, () => void>();
  let next = 1;
  return {
    setInterval: (fn) => { fns.set(next, fn); return next++; },
    clearInterval: (h) => { fns.delete(h as number); },
    tick: () => [...fns.values()].forEach((f) => f()),
    get active() { return fns.size; },
  };
}

function recorder(key: string, rangeEnd = ''): KvWatcher & { got: string[]; failed: unknown[] } {
  const got: string[] = [];
  const failed: unknown[] = [];
  return { key, rangeEnd, got, failed, deliver: (rev, evs) => got.push(`${rev}:${evs.map((e) => e.kv.key).join(',')}`), fail: (e) => failed.push(e) };
}

describe('KvWatchHub', () => {
  it('gives each watch the events of its key or range, in order, and nothing of other keys', () => {
    const src = fakeSource();
    const hub = new KvWatchHub(src, fakeTimers());
    const a = recorder('a');
    const a2 = recorder('a');
    const range = recorder('b', 'd');
    const all = recorder('', '\u0000');
    const others = Array.from({ length: 1000 }, (_, i) => recorder(`z${i}`));
    [a, a2, range, all, ...others].forEach((w) => hub.add(w));
    src.emit(5, [put('c', 5), put('a', 5), put('b', 5), put('d', 5), put('a', 5)]);
    src.emit(6, [put('x', 6)]);
    expect(a.got).toEqual(['5:a,a']);
    expect(a2.got).toEqual(['5:a,a']);
    expect(range.got).toEqual(['5:c,b']);
    expect(all.got).toEqual(['5:c,a,b,d,a', '6:x']);
    expect(others.every((w) => w.got.length === 0)).toBe(true);
  });

  it('finds prefix and open range watches without looking at the ranges that miss the key', () => {
    const src = fakeSource();
    const hub = new KvWatchHub(src, fakeTimers());
    let looks = 0;
    // A watch whose range is read through getters: every look at it during dispatch counts.
    const counted = (key: string, rangeEnd: string): ReturnType<typeof recorder> => {
      const w = recorder(key, rangeEnd);
      return Object.defineProperties(w, {
        key: { get: () => { looks++; return key; } },
        rangeEnd: { get: () => { looks++; return rangeEnd; } },
      });
    };
    const tenants = Array.from({ length: 2000 }, (_, i) => counted(`t/${i}/`, `t/${i}0`)); // prefix ranges, as --prefix sends
    const from = counted('t/7/x', '\u0000');
    [...tenants, from].forEach((w) => hub.add(w));
    looks = 0;
    src.emit(3, [put('t/7/x', 3), put('t/1999/zz', 3)]);
    expect(looks).toBe(0);
    expect(tenants[7]?.got).toEqual(['3:t/7/x']);
    expect(tenants[1999]?.got).toEqual(['3:t/1999/zz']);
    expect(from.got).toEqual(['3:t/7/x']); // keys >= t/7/x; t/1999/zz sorts before it
    expect(tenants.filter((w) => w.got.length > 0)).toHaveLength(2);
  });

  it('ends every watch after two failed quorum checks in a row, not after one', () => {
    const src = fakeSource();
    const timers = fakeTimers();
    const hub = new KvWatchHub(src, timers);
    const a = recorder('a');
    const r = recorder('a', 'b');
    hub.add(a);
    hub.add(r);
    src.reachable = false;
    timers.tick();
    src.reachable = true;
    timers.tick();
    src.reachable = false;
    timers.tick();
    expect([a.failed.length, r.failed.length]).toEqual([0, 0]);
    timers.tick();
    expect([a.failed.length, r.failed.length]).toEqual([1, 1]);
  });

  it('ends 200,000 watches on one key at once when the majority is lost', () => {
    const src = fakeSource();
    const timers = fakeTimers();
    const hub = new KvWatchHub(src, timers);
    let failed = 0;
    for (let i = 0; i < 200_000; i++) hub.add({ key: 'election', rangeEnd: '', deliver: () => undefined, fail: () => { failed++; } });
    src.reachable = false;
    timers.tick();
    timers.tick();
    expect(failed).toBe(200_000);
  });

  it('subscribes while it has watches only, and a removal is done once', () => {
    const src = fakeSource();
    const timers = fakeTimers();
    const hub = new KvWatchHub(src, timers);
    const a = recorder('a');
    const remove = hub.add(a);
    const removeRange = hub.add(recorder('a', 'c'));
    expect([src.listeners, timers.active, hub.size]).toEqual([1, 1, 2]);
    remove();
    remove();
    expect(hub.size).toBe(1);
    src.emit(7, [put('a', 7)]);
    expect(a.got).toEqual([]);
    removeRange();
    expect([src.listeners, timers.active, hub.size]).toEqual([0, 0, 0]);
    hub.add(recorder('b'));
    expect([src.listeners, timers.active]).toEqual([1, 1]);
  });
});
