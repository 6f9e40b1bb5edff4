import * as Y from 'yjs';
import { DomainError, invalidArgument } from '../errors/DomainError';
import { checkRange, wrongType } from './operationErrors';
import { ContainerKind, SharedType, getTopLevel, kindOfValue, kindsRegistry, topLevelKind } from './sharedKinds';
import { simulateBatch } from './simulateBatch';
import {
  counterMarkerKey,
  kindsTypeName,
  operationsPerRequestMax,
  TypedOperation,
  validateCount,
  validatePath,
} from './typedOperation';

/**
 * Applies typed operations to `doc` in one Yjs transaction with the given origin. All or
 * nothing: a Yjs transaction cannot be rolled back, so every failure is found before anything
 * is written. Each operation checks its path and range with a dry run before it writes, and a
 * batch is first run against a model of the places it touches (`simulateBatch`), or, when that
 * cannot tell (a top-level type of unknown kind), tried on a scratch copy of the document.
 */
export function applyOperations(doc: Y.Doc, ops: readonly TypedOperation[], origin: unknown): void {
  if (ops.length === 0) throw invalidArgument('no operations');
  if (ops.length > operationsPerRequestMax) {
    throw invalidArgument(`at most ${operationsPerRequestMax} operations per request`);
  }
  for (const op of ops) validateOperation(op);
  if (ops.length > 1 && !simulateBatch(doc, ops)) {
    const scratch = new Y.Doc({ gc: true });
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(doc));
    scratch.transact(() => ops.forEach((op) => applyOne(scratch, op)));
    scratch.destroy();
  }
  doc.transact(() => ops.forEach((op) => applyOne(doc, op)), origin);
}

function validateOperation(op: TypedOperation): void {
  switch (op.kind) {
    case 'map-set':
    case 'map-delete':
      validatePath(op.path, 2);
      return;
    case 'list-insert':
      validatePath(op.path, 1);
      validateCount('index', op.index);
      if (op.values.length === 0) throw invalidArgument('list insert needs at least one value');
      return;
    case 'list-delete':
      validatePath(op.path, 1);
      validateCount('index', op.index);
      validateCount('count', op.count);
      return;
    case 'text-insert':
      validatePath(op.path, 1);
      validateCount('index', op.index);
      return;
    case 'text-delete':
      validatePath(op.path, 1);
      validateCount('index', op.index);
      validateCount('length', op.length);
      return;
    case 'counter-add':
      validatePath(op.path, 1);
      if (!Number.isFinite(op.delta)) throw invalidArgument('counter delta must be a finite number');
      return;
  }
}

function applyOne(doc: Y.Doc, op: TypedOperation): void {
  switch (op.kind) {
    case 'map-set': {
      resolve(doc, op.path.slice(0, -1), 'map', false);
      const map = resolve(doc, op.path.slice(0, -1), 'map', true) as Y.Map<unknown>;
      map.set(op.path[op.path.length - 1] as string, op.value);
      return;
    }
    case 'map-delete': {
      // Deleting from a map that does not exist is a no-op, and creates nothing; one that
      // exists is resolved again to record its kind (create then only records).
      if (resolve(doc, op.path.slice(0, -1), 'map', false) === null) return;
      (resolve(doc, op.path.slice(0, -1), 'map', true) as Y.Map<unknown>).delete(op.path[op.path.length - 1] as string);
      return;
    }
    case 'list-insert': {
      checkRange(op.index, 0, lengthOf(resolve(doc, op.path, 'list', false)), 'list');
      (resolve(doc, op.path, 'list', true) as Y.Array<unknown>).insert(op.index, [...op.values]);
      return;
    }
    case 'list-delete': {
      checkRange(op.index, op.count, lengthOf(resolve(doc, op.path, 'list', false)), 'list');
      if (op.count > 0) (resolve(doc, op.path, 'list', true) as Y.Array<unknown>).delete(op.index, op.count);
      return;
    }
    case 'text-insert': {
      checkRange(op.index, 0, lengthOf(resolve(doc, op.path, 'text', false)), 'text');
      (resolve(doc, op.path, 'text', true) as Y.Text).insert(op.index, op.text);
      return;
    }
    case 'text-delete': {
      checkRange(op.index, op.length, lengthOf(resolve(doc, op.path, 'text', false)), 'text');
      if (op.length > 0) (resolve(doc, op.path, 'text', true) as Y.Text).delete(op.index, op.length);
      return;
    }
    case 'counter-add': {
      resolve(doc, op.path, 'counter', false);
      const counter = resolve(doc, op.path, 'counter', true) as Y.Map<unknown>;
      const key = String(doc.clientID);
      const prev = counter.get(key);
      counter.set(key, (typeof prev === 'number' ? prev : 0) + op.delta);
      return;
    }
  }
}

function lengthOf(container: SharedType | null): number {
  if (container instanceof Y.Array || container instanceof Y.Text) return container.length;
  return 0;
}

/**
 * Finds the container at `path`, creating missing ones as `want` (intermediate ones as maps).
 * Creating a nested container is a Yjs write like any other: two replicas that create the same
 * missing nested container concurrently keep only one of them (as in Yjs and Automerge), so
 * applications that edit concurrently should create shared structure up front or use
 * top-level types, which always merge.
 */
function resolve(doc: Y.Doc, path: readonly string[], want: ContainerKind, create: true): SharedType;
function resolve(doc: Y.Doc, path: readonly string[], want: ContainerKind, create: boolean): SharedType | null;
function resolve(doc: Y.Doc, path: readonly string[], want: ContainerKind, create: boolean): SharedType | null {
  const name = path[0] as string;
  const topWant: ContainerKind = path.length === 1 ? want : 'map';
  const found = topLevelKind(doc, name);
  if (found !== 'empty' && found !== 'unknown' && found !== topWant) {
    throw wrongType([name], found, topWant);
  }
  // A dry run (create = false) never instantiates anything (a type instantiated but never
  // written would exist on this replica only) and never writes: it may run outside the
  // operation's transaction.
  if (!create && (found === 'empty' || found === 'unknown')) return null;
  const top = getTopLevel(doc, name, topWant);
  // Record the kind whenever it is not recorded yet (it may have been inferred from content).
  if (create && (found === 'empty' || found === 'unknown' || kindsRegistry(doc)?.get(name) !== topWant)) initContainer(doc, name, top, topWant);
  let current: SharedType = top;
  for (let i = 1; i < path.length; i++) {
    const seg = path[i] as string;
    const need: ContainerKind = i === path.length - 1 ? want : 'map';
    let child: unknown;
    if (current instanceof Y.Array) {
      const idx = Number(seg);
      if (!/^\d+$/.test(seg) || idx >= current.length) {
        throw new DomainError('not-found', `no element ${seg} in list at ${path.slice(0, i).join('.')}`);
      }
      child = current.get(idx);
    } else if (current instanceof Y.Map && kindOfValue(current) === 'map') {
      child = current.get(seg);
      if (child === undefined) {
        if (!create) return null;
        child = newContainer(need);
        current.set(seg, child);
        if (need === 'counter') (child as Y.Map<unknown>).set(counterMarkerKey, true);
      }
    } else {
      throw wrongType(path.slice(0, i), kindOfValue(current) ?? 'value', 'map');
    }
    const kind = kindOfValue(child);
    if (kind !== need) throw wrongType(path.slice(0, i + 1), kind ?? 'value', need);
    current = child as SharedType;
  }
  return current;
}

function initContainer(doc: Y.Doc, name: string, top: SharedType, kind: ContainerKind): void {
  const kinds = doc.getMap<string>(kindsTypeName);
  if (kinds.get(name) !== kind) kinds.set(name, kind);
  if (kind === 'counter' && !(top as Y.Map<unknown>).has(counterMarkerKey)) {
    (top as Y.Map<unknown>).set(counterMarkerKey, true);
  }
}

function newContainer(kind: ContainerKind): SharedType {
  switch (kind) {
    case 'map':
    case 'counter':
      return new Y.Map<unknown>();
    case 'list':
      return new Y.Array<unknown>();
    case 'text':
      return new Y.Text();
  }
}
