// The contract between the linearizability checker and a sequential specification.

/** Output recorded for an operation whose outcome the client never learned (timeout, crash). */
export const UNKNOWN = 'unknown';
export type Unknown = typeof UNKNOWN;

/**
 * One client operation as observed from outside the system. `call` and `return` come from one
 * monotonic clock. An operation with an unknown outcome has `output: 'unknown'` and
 * `return: Infinity`: it may have taken effect at any point after its call, or never.
 */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  readonly call: number;
  readonly output: O | Unknown;
  readonly return: number;
}

/**
 * A sequential specification. The checker searches for an order of the operations that respects
 * real time and that `step` accepts one by one from `init()`.
 *
 * Determinism contract: `step` is a pure function. It never mutates `state` (the checker keeps
 * old states to backtrack to), and for the same arguments it always gives the same answer.
 * For `output === 'unknown'` it must accept in every state, returning the state after the input
 * took effect; an operation that never took effect is linearized after everything else, where
 * nobody can observe it.
 */
export interface Model<S, I, O> {
  init(): S;
  /** Whether `input` applied in `state` may produce `output`, and the state after it. */
  step(state: S, input: I, output: O | Unknown): readonly [boolean, S];
  /** State equality; the search caches (linearized set, state) pairs it has already explored. */
  equal(a: S, b: S): boolean;
  /**
   * Splits a history into independent sub-histories (one per key, usually). Only valid when
   * operations on different parts never constrain each other; each part is checked from `init()`.
   */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  describeOperation?(input: I, output: O | Unknown): string;
  describeState?(state: S): string;
}

/** Partitions a history by a key extracted from each input, keeping the history's order. */
export function partitionByKey<I, O>(
  history: readonly Operation<I, O>[],
  keyOf: (input: I) => string,
): Operation<I, O>[][] {
  const parts = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    const key = keyOf(op.input);
    const part = parts.get(key);
    if (part === undefined) parts.set(key, [op]);
    else part.push(op);
  }
  return [...parts.values()];
}
