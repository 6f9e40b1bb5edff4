// Lease grants hand out fencing tokens that strictly increase in linearization order, per
// resource. A grant with an unknown outcome may have consumed a token nobody saw; leaving the
// state unchanged is the most permissive reading, since any later token greater than the last
// seen one may also be greater than the unseen one.

import { partitionByKey, type Model, type Unknown } from './Model';

export interface FencingInput {
  kind: 'grant';
  resource: string;
}

export interface FencingOutput {
  kind: 'grant';
  token: number;
}

/** The highest token granted so far, per resource (absent: none yet). */
export type FencingState = Readonly<Record<string, number>>;

export const fencingModel: Model<FencingState, FencingInput, FencingOutput> = {
  init: () => ({}),
  step(state: FencingState, input: FencingInput, output: FencingOutput | Unknown): readonly [boolean, FencingState] {
    if (output === 'unknown') return [true, state];
    const last = state[input.resource] ?? -Infinity;
    return output.token > last ? [true, { ...state, [input.resource]: output.token }] : [false, state];
  },
  equal(a: FencingState, b: FencingState): boolean {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
  },
  partition: (history) => partitionByKey(history, (input) => input.resource),
  describeOperation: (input, output) => `grant(${input.resource}) -> ${output === 'unknown' ? output : output.token}`,
  describeState: (state) => Object.entries(state).map(([k, v]) => `${k}:${v}`).join(' ') || '(none granted)',
};
