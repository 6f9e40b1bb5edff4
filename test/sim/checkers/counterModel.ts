// Bounded counters: `add` applies delta only when the result stays within [floor, ceiling] and
// reports the new value; otherwise it is refused and changes nothing. Counters start at 0 and are
// independent per key, so histories are partitioned by key.

import { partitionByKey, type Model, type Unknown } from './Model';

export type CounterInput =
  | { kind: 'add'; key: string; delta: number; floor: number; ceiling: number }
  | { kind: 'read'; key: string };

export type CounterOutput =
  | { kind: 'add'; applied: true; value: number }
  | { kind: 'add'; applied: false }
  | { kind: 'read'; value: number };

export type CounterState = Readonly<Record<string, number>>;

export function applyCounter(state: CounterState, input: CounterInput): [CounterOutput, CounterState] {
  const value = state[input.key] ?? 0;
  if (input.kind === 'read') return [{ kind: 'read', value }, state];
  const next = value + input.delta;
  if (next < input.floor || next > input.ceiling) return [{ kind: 'add', applied: false }, state];
  return [{ kind: 'add', applied: true, value: next }, { ...state, [input.key]: next }];
}

function matches(expected: CounterOutput, actual: CounterOutput): boolean {
  if (expected.kind === 'read' || actual.kind === 'read') {
    return expected.kind === 'read' && actual.kind === 'read' && expected.value === actual.value;
  }
  if (!expected.applied || !actual.applied) return expected.applied === actual.applied;
  return expected.value === actual.value;
}

export const counterModel: Model<CounterState, CounterInput, CounterOutput> = {
  init: () => ({}),
  step(state: CounterState, input: CounterInput, output: CounterOutput | Unknown): readonly [boolean, CounterState] {
    const [expected, next] = applyCounter(state, input);
    return [output === 'unknown' || matches(expected, output), next];
  },
  equal(a: CounterState, b: CounterState): boolean {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
  },
  partition: (history) => partitionByKey(history, (input) => input.key),
  describeOperation(input, output) {
    const call = input.kind === 'read'
      ? `read(${input.key})`
      : `add(${input.key}, ${input.delta}, [${input.floor}, ${input.ceiling}])`;
    const result = output === 'unknown' ? output
      : output.kind === 'read' || output.applied ? String(output.value) : 'refused';
    return `${call} -> ${result}`;
  },
  describeState: (state) => Object.entries(state).map(([k, v]) => `${k}=${v}`).join(' ') || '(all 0)',
};
