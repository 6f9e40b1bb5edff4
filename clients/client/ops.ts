import type { Operation } from '../../proto/gen/concord/v1/documents';
import { parsePath, type PathLike } from './parsePath';

// Builders for the typed operations of DocumentService.Apply. Values are JSON-encoded here so
// callers pass plain values; `undefined`, functions and symbols have no JSON form and throw.

function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`value has no JSON encoding: ${String(value)}`);
  return json;
}

function count(name: string, value: number): number {
  // The wire fields are uint32: reject what would silently wrap or truncate.
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${name} must be an integer in [0, 2^32): ${value}`);
  }
  return value;
}

export const ops = {
  /** Sets the map key at `path` (at least type and key: `order.status`) to a JSON value. */
  set(path: PathLike, value: unknown): Operation {
    return { op: { $case: 'mapSet', value: { path: parsePath(path), valueJson: toJson(value) } } };
  },
  /** Deletes the map key at `path`. */
  del(path: PathLike): Operation {
    return { op: { $case: 'mapDelete', value: { path: parsePath(path) } } };
  },
  /** Inserts `values` into the list at `path`, starting at `index`. */
  listInsert(path: PathLike, index: number, values: readonly unknown[]): Operation {
    const valuesJson = values.map(toJson);
    return { op: { $case: 'listInsert', value: { path: parsePath(path), index: count('index', index), valuesJson } } };
  },
  /** Deletes `count` items of the list at `path`, starting at `index`. */
  listDelete(path: PathLike, index: number, n = 1): Operation {
    return {
      op: { $case: 'listDelete', value: { path: parsePath(path), index: count('index', index), count: count('count', n) } },
    };
  },
  /** Inserts `text` into the text at `path` at character `index`. */
  textInsert(path: PathLike, index: number, text: string): Operation {
    return { op: { $case: 'textInsert', value: { path: parsePath(path), index: count('index', index), text } } };
  },
  /** Deletes `length` characters of the text at `path`, starting at `index`. */
  textDelete(path: PathLike, index: number, length: number): Operation {
    return {
      op: {
        $case: 'textDelete',
        value: { path: parsePath(path), index: count('index', index), length: count('length', length) },
      },
    };
  },
  /** Adds `delta` (may be negative) to the counter at `path`; concurrent adds all count. */
  counterAdd(path: PathLike, delta: number): Operation {
    if (!Number.isFinite(delta)) throw new RangeError(`delta must be a finite number: ${delta}`);
    return { op: { $case: 'counterAdd', value: { path: parsePath(path), delta } } };
  },
} as const;
