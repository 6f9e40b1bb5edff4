import { invalidArgument } from '../errors/DomainError';

/**
 * Typed operations for thin clients, as plain data (the RPC layer converts protobuf messages
 * into these). Paths: first segment names a top-level shared type, later segments are map keys
 * or decimal list indexes.
 */
export type TypedOperation =
  | { readonly kind: 'map-set'; readonly path: readonly string[]; readonly value: unknown }
  | { readonly kind: 'map-delete'; readonly path: readonly string[] }
  | { readonly kind: 'list-insert'; readonly path: readonly string[]; readonly index: number; readonly values: readonly unknown[] }
  | { readonly kind: 'list-delete'; readonly path: readonly string[]; readonly index: number; readonly count: number }
  | { readonly kind: 'text-insert'; readonly path: readonly string[]; readonly index: number; readonly text: string }
  | { readonly kind: 'text-delete'; readonly path: readonly string[]; readonly index: number; readonly length: number }
  | { readonly kind: 'counter-add'; readonly path: readonly string[]; readonly delta: number };

export const pathSegmentsMax = 32;
export const pathSegmentBytesMax = 256;
export const operationsPerRequestMax = 1000;

/** Reserved names: the counter marker key and the top-level kinds registry. */
export const counterMarkerKey = '$counter';
export const kindsTypeName = '$kinds';

export function validatePath(path: readonly string[], minSegments: number): void {
  if (path.length < minSegments) {
    throw invalidArgument(`path needs at least ${minSegments} segment(s), got ${path.length}`);
  }
  if (path.length > pathSegmentsMax) throw invalidArgument(`path has more than ${pathSegmentsMax} segments`);
  for (const seg of path) {
    if (seg.length === 0) throw invalidArgument('path has an empty segment');
    if (seg.length > pathSegmentBytesMax) throw invalidArgument('path segment is too long');
  }
  if (path[0] === kindsTypeName) throw invalidArgument(`"${kindsTypeName}" is reserved`);
  if (path.slice(1).includes(counterMarkerKey)) throw invalidArgument(`"${counterMarkerKey}" is a reserved key`);
}

/** Parses a JSON text into a value storable in Yjs (finite numbers, no undefined). */
export function parseJsonValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidArgument(`value is not valid JSON: ${text.slice(0, 80)}`);
  }
}

export function validateCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(`${name} must be a non-negative integer`);
}
