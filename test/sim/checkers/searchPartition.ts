// The Wing-Gong search with Lowe's and Porcupine's improvements, over one partition.
//
// Walk the entry list from the front. At a call entry, try to linearize the operation now: if the
// model accepts it and the resulting (linearized set, state) was never seen, lift the operation
// out of the list, push it on the stack and restart from the front. At a return entry, some
// operation that had already returned was not linearized before it: undo the last choice and try
// the next candidate after it. The history is linearizable when the list empties.

import { buildEntryList, lift, unlift, type Entry } from './entryList';
import type { Model, Operation } from './Model';
import type { SearchBudget } from './SearchBudget';
import { LinearizedSet, StateCache } from './StateCache';

/** The deepest point the search reached before an operation's return blocked it. */
export interface Deepest<S> {
  prefix: number[];
  state: S;
  /** Operations called but not linearized at that point (the ones that could have gone next). */
  candidates: number[];
  /** The operation whose return came before any candidate could be linearized. */
  blockedBy: number;
}

export type PartitionOutcome<S> =
  | { kind: 'ok'; order: number[] }
  | { kind: 'illegal'; deepest: Deepest<S> }
  | { kind: 'timeout' };

const candidatesMax = 16;

export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: SearchBudget,
): PartitionOutcome<S> {
  const head = buildEntryList(ops);
  const linearized = new LinearizedSet(ops.length);
  const cache = new StateCache<S>((a, b) => model.equal(a, b));
  const calls: { entry: Entry<I, O>; stateBefore: S }[] = [];
  let state = model.init();
  let deepest: Deepest<S> | null = null;

  let entry = head.next;
  while (entry !== null) {
    if (!budget.spend()) return { kind: 'timeout' };
    const { op, match } = entry;
    if (op === null) throw new Error('searchPartition: reached the head sentinel');
    if (match !== null) {
      const [ok, next] = model.step(state, op.input, op.output);
      if (ok) {
        linearized.add(entry.opIndex);
        if (cache.add(linearized, next)) {
          calls.push({ entry, stateBefore: state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.remove(entry.opIndex);
      }
      entry = entry.next;
      continue;
    }
    if (deepest === null || calls.length > deepest.prefix.length) {
      deepest = {
        prefix: calls.map((c) => c.entry.opIndex),
        state,
        candidates: callsBefore(head, entry),
        blockedBy: entry.opIndex,
      };
    }
    const top = calls.pop();
    if (top === undefined) return { kind: 'illegal', deepest };
    state = top.stateBefore;
    linearized.remove(top.entry.opIndex);
    unlift(top.entry);
    entry = top.entry.next;
  }
  return { kind: 'ok', order: calls.map((c) => c.entry.opIndex) };
}

function callsBefore<I, O>(head: Entry<I, O>, stop: Entry<I, O>): number[] {
  const found: number[] = [];
  for (let e = head.next; e !== null && e !== stop && found.length < candidatesMax; e = e.next) {
    if (e.match !== null) found.push(e.opIndex);
  }
  return found;
}
