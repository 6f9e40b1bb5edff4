import { TypedOperation } from '../../../services/core/crdt/typedOperation';
import { Prng } from '../prng';
import { Effect, fields, mapKeys, OpHistory } from './OpHistory';

export type FieldKind = keyof typeof fields;
const counterDeltas: readonly number[] = [-2, -1, 1, 2, 3, 5];

/**
 * One typed operation of a thin client on the field of `kind`, chosen against `view` (the
 * document's JSON on the replica that applies it, read just before): inserts carry fresh unique
 * tokens, deletes name the tokens they remove, so the checkers can tell what took effect.
 * Appends the operation to `ops` and what it means to `effects`.
 */
export function typedClientOp(view: Record<string, unknown>, kind: FieldKind, prng: Prng, history: OpHistory, ops: TypedOperation[], effects: Effect[]): void {
  const path = [fields[kind]];
  if (kind === 'text' || kind === 'list') {
    const items = kind === 'text' ? [...asString(view[fields.text])] : asStrings(view[fields.list]);
    if (items.length > 0 && prng.chance(0.35)) {
      const index = prng.int(items.length);
      const count = 1 + prng.int(Math.min(2, items.length - index));
      for (const token of items.slice(index, index + count)) effects.push({ kind: 'delete', field: fields[kind], token });
      ops.push(kind === 'text' ? { kind: 'text-delete', path, index, length: count } : { kind: 'list-delete', path, index, count });
      return;
    }
    const index = prng.int(items.length + 1);
    const tokens = Array.from({ length: 1 + prng.int(2) }, () => (kind === 'text' ? history.textToken() : history.listToken()));
    for (const token of tokens) effects.push({ kind: 'insert', field: fields[kind], token });
    ops.push(kind === 'text' ? { kind: 'text-insert', path, index, text: tokens.join('') } : { kind: 'list-insert', path, index, values: tokens });
  } else if (kind === 'map') {
    const key = prng.pick(mapKeys);
    if (prng.chance(0.2)) {
      effects.push({ kind: 'unset', key });
      ops.push({ kind: 'map-delete', path: [fields.map, key] });
    } else {
      const value = history.mapValue();
      effects.push({ kind: 'set', key, value });
      ops.push({ kind: 'map-set', path: [fields.map, key], value });
    }
  } else {
    const delta = prng.pick(counterDeltas);
    effects.push({ kind: 'add', delta });
    ops.push({ kind: 'counter-add', path, delta });
  }
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function asStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
