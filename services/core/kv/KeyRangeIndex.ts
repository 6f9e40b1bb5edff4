import { prefixRangeEnd } from './prefixRangeEnd';

/**
 * Key ranges of the KV API ([key, rangeEnd); '\u0000' = every key >= key; keys compare as JS
 * strings), each holding members, indexed for one question: which members' ranges hold this key.
 * Watches ask it for every event, so the answer must not cost a look at every range, as etcd's
 * interval tree of watched ranges does not. Three kinds of range, each found its own way:
 * - a prefix range (rangeEnd = prefixRangeEnd(key), what `--prefix` sends): a key lies in it
 *   exactly when it starts with the prefix, so one map lookup per distinct prefix length;
 * - an open range (rangeEnd '\u0000'): every start up to the key, from a sorted list;
 * - any other range: checked one by one, as few as clients make them.
 * Pure, no I/O.
 */
export class KeyRangeIndex<M> {
  private readonly prefixes = new Map<string, Set<M>>();
  /** Prefixes indexed, by length. */
  private readonly lengths = new Map<number, number>();
  private sortedLengths: number[] | undefined = [];
  private readonly open = new Map<string, Set<M>>();
  private sortedStarts: string[] | undefined = [];
  private readonly other = new Map<string, { readonly key: string; readonly rangeEnd: string; readonly members: Set<M> }>();
  private count = 0;

  /** Members held, over every range. */
  get size(): number {
    return this.count;
  }

  add(key: string, rangeEnd: string, member: M): void {
    const kind = kindOf(key, rangeEnd);
    if (kind === 'prefix') {
      let set = this.prefixes.get(key);
      if (set === undefined) {
        this.prefixes.set(key, (set = new Set()));
        this.lengths.set(key.length, (this.lengths.get(key.length) ?? 0) + 1);
        this.sortedLengths = undefined;
      }
      if (!set.has(member)) this.count++;
      set.add(member);
    } else if (kind === 'open') {
      let set = this.open.get(key);
      if (set === undefined) {
        this.open.set(key, (set = new Set()));
        this.sortedStarts = undefined;
      }
      if (!set.has(member)) this.count++;
      set.add(member);
    } else {
      const id = rangeId(key, rangeEnd);
      let range = this.other.get(id);
      if (range === undefined) this.other.set(id, (range = { key, rangeEnd, members: new Set() }));
      if (!range.members.has(member)) this.count++;
      range.members.add(member);
    }
  }

  /** Removes a member from a range (nothing when it is not there). */
  delete(key: string, rangeEnd: string, member: M): void {
    const kind = kindOf(key, rangeEnd);
    if (kind === 'prefix') {
      const set = this.prefixes.get(key);
      if (set === undefined || !set.delete(member)) return;
      this.count--;
      if (set.size > 0) return;
      this.prefixes.delete(key);
      const n = (this.lengths.get(key.length) ?? 1) - 1;
      if (n === 0) this.lengths.delete(key.length);
      else this.lengths.set(key.length, n);
      this.sortedLengths = undefined;
    } else if (kind === 'open') {
      const set = this.open.get(key);
      if (set === undefined || !set.delete(member)) return;
      this.count--;
      if (set.size > 0) return;
      this.open.delete(key);
      this.sortedStarts = undefined;
    } else {
      const id = rangeId(key, rangeEnd);
      const range = this.other.get(id);
      if (range === undefined || !range.members.delete(member)) return;
      this.count--;
      if (range.members.size === 0) this.other.delete(id);
    }
  }

  /** Calls `visit` with every member whose range holds `key` (once per such range it is in). */
  forEachHolding(key: string, visit: (member: M) => void): void {
    if (this.prefixes.size > 0) {
      for (const length of (this.sortedLengths ??= [...this.lengths.keys()].sort((a, b) => a - b))) {
        if (length > key.length) break;
        this.prefixes.get(length === key.length ? key : key.slice(0, length))?.forEach(visit);
      }
    }
    if (this.open.size > 0) {
      for (const start of (this.sortedStarts ??= [...this.open.keys()].sort(compareStrings))) {
        if (start > key) break;
        this.open.get(start)?.forEach(visit);
      }
    }
    for (const r of this.other.values()) if (key >= r.key && key < r.rangeEnd) r.members.forEach(visit);
  }

  /** Every member, once per range it is in. */
  *all(): Iterable<M> {
    for (const set of this.prefixes.values()) yield* set;
    for (const set of this.open.values()) yield* set;
    for (const r of this.other.values()) yield* r.members;
  }
}

/** One id per range: the key's length first, so no two (key, end) pairs meet (keys may hold any unit). */
const rangeId = (key: string, rangeEnd: string): string => `${key.length}:${key}${rangeEnd}`;

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function kindOf(key: string, rangeEnd: string): 'prefix' | 'open' | 'other' {
  if (rangeEnd === '\u0000') return 'open';
  if (rangeEnd === '') throw new RangeError('a key range needs a range end (a single key is not a range)');
  // A key whose prefix range cannot be written (it would end in a lone surrogate) is no prefix.
  try {
    return prefixRangeEnd(key) === rangeEnd ? 'prefix' : 'other';
  } catch {
    return 'other';
  }
}
