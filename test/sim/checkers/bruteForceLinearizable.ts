// A test oracle: tries every order that respects real time, with no pruning, and lets operations
// with unknown outcomes be dropped. Exponential; only for histories of a handful of operations.

import type { Model, Operation } from './Model';

export function bruteForceLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): boolean {
  const ops = history.map((op) => (op.output === 'unknown' ? { ...op, return: Infinity } : op));
  const search = (remaining: readonly Operation<I, O>[], state: S): boolean => {
    if (remaining.every((op) => op.output === 'unknown')) return true;
    return remaining.some((op, i) => {
      const mustPrecede = remaining.some((other) => other !== op && other.return < op.call);
      if (mustPrecede) return false;
      const [ok, next] = model.step(state, op.input, op.output);
      return ok && search([...remaining.slice(0, i), ...remaining.slice(i + 1)], next);
    });
  };
  return search(ops, model.init());
}
