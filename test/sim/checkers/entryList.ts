// The doubly linked list of call and return entries that the Wing-Gong search walks. Lifting an
// operation unlinks its call and return; unlifting relinks them. Because the search undoes lifts
// in exact reverse order (a stack), the removed entries still point at their old neighbours and
// relinking is O(1), as in dancing links.

import type { Operation } from './Model';

export class Entry<I, O> {
  prev: Entry<I, O> = this;
  next: Entry<I, O> | null = null;

  constructor(
    readonly op: Operation<I, O> | null, // null only for the head sentinel
    readonly opIndex: number,
    /** For a call entry, its return entry; null for a return entry. */
    readonly match: Entry<I, O> | null,
  ) {}
}

/**
 * Builds the list in time order and returns its head sentinel. At equal timestamps calls sort
 * before returns, so operations that touch at one instant count as concurrent (the permissive
 * reading). Unknown outcomes return at Infinity, after every known return.
 */
export function buildEntryList<I, O>(ops: readonly Operation<I, O>[]): Entry<I, O> {
  const events: { time: number; isReturn: boolean; opIndex: number }[] = [];
  ops.forEach((op, opIndex) => {
    events.push({ time: op.call, isReturn: false, opIndex });
    events.push({ time: op.return, isReturn: true, opIndex });
  });
  events.sort((a, b) =>
    a.time !== b.time ? a.time - b.time
      : a.isReturn !== b.isReturn ? (a.isReturn ? 1 : -1)
        : a.opIndex - b.opIndex);

  const head = new Entry<I, O>(null, -1, null);
  const returns = new Map<number, Entry<I, O>>();
  // Walk backwards so that each call is created after (and can point to) its return.
  let first: Entry<I, O> | null = null;
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event === undefined) continue;
    const op = ops[event.opIndex] ?? null;
    const match = event.isReturn ? null : (returns.get(event.opIndex) ?? null);
    const entry = new Entry(op, event.opIndex, match);
    if (event.isReturn) returns.set(event.opIndex, entry);
    entry.next = first;
    if (first !== null) first.prev = entry;
    first = entry;
  }
  head.next = first;
  if (first !== null) first.prev = head;
  return head;
}

/** Unlinks a call entry and its return entry. */
export function lift<I, O>(call: Entry<I, O>): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

/** Undoes the matching `lift`; must be called in reverse order of the lifts. */
export function unlift<I, O>(call: Entry<I, O>): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

function unlink<I, O>(entry: Entry<I, O>): void {
  entry.prev.next = entry.next;
  if (entry.next !== null) entry.next.prev = entry.prev;
}

function relink<I, O>(entry: Entry<I, O>): void {
  entry.prev.next = entry;
  if (entry.next !== null) entry.next.prev = entry;
}
