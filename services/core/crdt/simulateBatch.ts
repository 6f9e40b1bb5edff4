import * as Y from 'yjs';
import { checkRange, wrongType } from './operationErrors';
import { ContainerKind, SharedType, getTopLevel, kindOfValue, topLevelKind } from './sharedKinds';
import { TypedOperation } from './typedOperation';

/** A path as the batch has left it so far: what is there, and the container it still reads from. */
interface Place {
  kind: ContainerKind | 'value' | 'missing';
  /** The document's container while the batch has not replaced or created this place. */
  real: SharedType | null;
  /** A list's or text's length once known (read from `real` the first time). */
  length: number | undefined;
  readonly children: Map<string, Place>;
}

const place = (kind: Place['kind'], real: SharedType | null): Place => ({ kind, real, length: undefined, children: new Map() });

/** Thrown inside the simulation when a path's kind cannot be told (see simulateBatch). */
const unsure = Symbol('unsure');

/**
 * Runs a batch of typed operations against a model of the places they touch, without writing:
 * true when every operation will apply to `doc`, the error the batch fails with (thrown) when
 * one will not, false when it cannot tell (a top-level type whose kind its content does not
 * show). Each place starts as the document has it and changes as the operations would change
 * it: containers created, entries replaced by values or deleted, lists and texts growing and
 * shrinking. It follows the checks `applyOperations` makes step by step, in the same order, so
 * the first failing operation fails here with the same error.
 */
export function simulateBatch(doc: Y.Doc, ops: readonly TypedOperation[]): boolean {
  const tops = new Map<string, Place>();
  const top = (name: string): Place => {
    let p = tops.get(name);
    if (p === undefined) {
      const found = topLevelKind(doc, name);
      if (found === 'unknown') throw unsure;
      p = found === 'empty' ? place('missing', null) : place(found, getTopLevel(doc, name, found));
      tops.set(name, p);
    }
    return p;
  };
  const child = (parent: Place, key: string): Place => {
    let p = parent.children.get(key);
    if (p === undefined) {
      const v: unknown = parent.real instanceof Y.Map ? parent.real.get(key) : undefined;
      const kind = v === undefined ? 'missing' : (kindOfValue(v) ?? 'value');
      p = place(kind, kind === 'missing' || kind === 'value' ? null : (v as SharedType));
      parent.children.set(key, p);
    }
    return p;
  };
  const become = (p: Place, kind: Place['kind']): void => {
    p.kind = kind;
    p.real = null;
    p.length = kind === 'list' || kind === 'text' ? 0 : undefined;
    p.children.clear();
  };
  // As applyOperations' resolve: the container at `path`, created (as `want`, intermediate ones
  // as maps) when `create`, else null when missing.
  const resolve = (path: readonly string[], want: ContainerKind, create: boolean): Place | null => {
    const name = path[0] as string;
    const topWant: ContainerKind = path.length === 1 ? want : 'map';
    let current = top(name);
    if (current.kind !== 'missing' && current.kind !== topWant) throw wrongType([name], current.kind, topWant);
    if (current.kind === 'missing') {
      if (!create) return null;
      become(current, topWant);
    }
    for (let i = 1; i < path.length; i++) {
      const need: ContainerKind = i === path.length - 1 ? want : 'map';
      const next = child(current, path[i] as string);
      if (next.kind === 'missing') {
        if (!create) return null;
        become(next, need);
      } else if (next.kind !== need) {
        throw wrongType(path.slice(0, i + 1), next.kind, need);
      }
      current = next;
    }
    return current;
  };
  const lengthOf = (p: Place | null): number => {
    if (p === null) return 0;
    p.length ??= p.real instanceof Y.Array || p.real instanceof Y.Text ? p.real.length : 0;
    return p.length;
  };
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'map-set':
        case 'map-delete': {
          const container = op.path.slice(0, -1);
          if (resolve(container, 'map', false) === null && op.kind === 'map-delete') break;
          const entry = child(resolve(container, 'map', true) as Place, op.path[op.path.length - 1] as string);
          become(entry, op.kind === 'map-set' ? 'value' : 'missing');
          break;
        }
        case 'list-insert':
        case 'text-insert': {
          const kind = op.kind === 'list-insert' ? 'list' : 'text';
          const length = lengthOf(resolve(op.path, kind, false));
          checkRange(op.index, 0, length, kind);
          (resolve(op.path, kind, true) as Place).length = length + (op.kind === 'list-insert' ? op.values.length : op.text.length);
          break;
        }
        case 'list-delete':
        case 'text-delete': {
          const kind = op.kind === 'list-delete' ? 'list' : 'text';
          const count = op.kind === 'list-delete' ? op.count : op.length;
          const length = lengthOf(resolve(op.path, kind, false));
          checkRange(op.index, count, length, kind);
          if (count > 0) (resolve(op.path, kind, true) as Place).length = length - count;
          break;
        }
        case 'counter-add':
          resolve(op.path, 'counter', false);
          resolve(op.path, 'counter', true);
          break;
      }
    }
  } catch (err) {
    if (err === unsure) return false;
    throw err;
  }
  return true;
}
