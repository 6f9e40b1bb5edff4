// Sequential specifications with random inputs, for generateHistory: KV over a few keys and
// bounded counters. Values are either unique per put (so a read of an unwritten value is
// recognisable) or drawn from a tiny domain (so that small histories collide often).

import { applyCounter, type CounterInput, type CounterOutput, type CounterState } from './counterModel';
import type { SequentialSpec } from './generateHistory';
import type { Prng } from '../prng';
import { applyKv, type KvInput, type KvOutput, type KvState } from './registerModel';

export interface KvSpecOptions {
  keys: number;
  /** Values drawn from this many; omit for a unique value per write. */
  valueDomain?: number;
}

export function kvSpec(opts: KvSpecOptions): SequentialSpec<KvState, KvInput, KvOutput> {
  let written = 0;
  const value = (prng: Prng): string => (opts.valueDomain === undefined ? `v${++written}` : `v${prng.int(opts.valueDomain)}`);
  const known = (prng: Prng): string | null => {
    if (prng.chance(0.2)) return null;
    return opts.valueDomain === undefined ? `v${1 + prng.int(Math.max(written, 1))}` : `v${prng.int(opts.valueDomain)}`;
  };
  return {
    init: {},
    apply: applyKv,
    randomInput(prng: Prng): KvInput {
      const key = `k${prng.int(opts.keys)}`;
      const roll = prng.next();
      if (roll < 0.4) return { kind: 'get', key };
      if (roll < 0.7) return { kind: 'put', key, value: value(prng) };
      if (roll < 0.75) return { kind: 'delete', key };
      const expected = prng.chance(0.5) ? { value: known(prng) } : { modRevision: prng.int(4) };
      return { kind: 'cas', key, expected, value: value(prng) };
    },
  };
}

export const counterBounds = { floor: -5, ceiling: 20 };

export function counterSpec(keys: number): SequentialSpec<CounterState, CounterInput, CounterOutput> {
  return {
    init: {},
    apply: applyCounter,
    randomInput(prng: Prng): CounterInput {
      const key = `c${prng.int(keys)}`;
      if (prng.chance(0.4)) return { kind: 'read', key };
      return { kind: 'add', key, delta: prng.int(11) - 5, ...counterBounds };
    },
  };
}
