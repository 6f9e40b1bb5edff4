/**
 * A set of keys named as the KV API names one: [key, rangeEnd), where rangeEnd '' is the single
 * key `key` and '\u0000' every key from `key` on. Keys compare as JS strings (UTF-16 code
 * units), as in the KV store; the keys that start with a prefix are one such range whatever the
 * order, so document ids and their prefixes use it too.
 */
export interface KeyRange {
  readonly key: string;
  readonly rangeEnd: string;
}

/** The range of the single key `key`. */
export const singleKey = (key: string): KeyRange => ({ key, rangeEnd: '' });

/** [start, end) with end undefined for "no end". A range whose end is not past its start is its first key alone. */
function bounds(r: KeyRange): { start: string; end: string | undefined } {
  if (r.rangeEnd === '\u0000') return { start: r.key, end: undefined };
  // The first string after `key` is `key` + U+0000.
  if (r.rangeEnd === '' || r.rangeEnd <= r.key) return { start: r.key, end: `${r.key}\u0000` };
  return { start: r.key, end: r.rangeEnd };
}

/**
 * Whether the union of `granted` holds every key of `want` (etcd checks a range the same way:
 * the permissions together must span it, one alone need not).
 */
export function keyRangeCovered(granted: readonly KeyRange[], want: KeyRange): boolean {
  const w = bounds(want);
  const sorted = granted.map(bounds).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let from = w.start; // every key below `from` (and at least w.start) is covered
  for (const g of sorted) {
    if (g.start > from) break;
    if (g.end === undefined) return true;
    if (g.end > from) from = g.end;
    if (w.end !== undefined && from >= w.end) return true;
  }
  return false;
}
