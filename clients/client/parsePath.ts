// A document path as users type it: dot-separated segments (`order.items.0`). The first segment
// names a top-level shared type; later ones are map keys or list indexes (kept as strings, as on
// the wire). A literal dot or backslash inside a segment is escaped with a backslash: `a\.b`.

export type PathLike = string | readonly string[];

/** Splits a dotted path into segments; an array is validated and copied as is. */
export function parsePath(path: PathLike): string[] {
  const segments = typeof path === 'string' ? splitDotted(path) : [...path];
  if (segments.length === 0) throw new RangeError('path is empty');
  if (segments.some((segment) => segment.length === 0)) {
    throw new RangeError(`path has an empty segment: ${JSON.stringify(path)}`);
  }
  return segments;
}

/** The inverse of parsePath for display: joins segments, escaping dots and backslashes. */
export function formatPath(segments: readonly string[]): string {
  return segments.map((segment) => segment.replace(/[\\.]/g, (c) => `\\${c}`)).join('.');
}

function splitDotted(text: string): string[] {
  if (text.length === 0) return [];
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new RangeError(`path ends with a lone backslash: ${JSON.stringify(text)}`);
      current += next;
      i++;
    } else if (c === '.') {
      segments.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  segments.push(current);
  return segments;
}
