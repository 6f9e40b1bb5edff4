// Proves that the fencing model accepts grants whose tokens increase in some real-time-respecting
// order and rejects a token reused or going backwards after a grant that had already returned.

import { checkLinearizable, type Operation } from './linearizability';
import { fencingModel, type FencingInput, type FencingOutput } from './fencingModel';

type GrantOp = Operation<FencingInput, FencingOutput>;

const grant = (c: number, token: number | 'unknown', call: number, ret: number, resource = 'lock'): GrantOp => ({
  clientId: c,
  input: { kind: 'grant', resource },
  call,
  output: token === 'unknown' ? 'unknown' : { kind: 'grant', token },
  return: token === 'unknown' ? Infinity : ret,
});

const cases: { name: string; history: GrantOp[]; linearizable: boolean }[] = [
  { name: 'sequential increasing tokens', history: [grant(1, 1, 0, 1), grant(2, 2, 2, 3), grant(1, 7, 4, 5)], linearizable: true },
  { name: 'concurrent grants in either order', history: [grant(1, 5, 0, 3), grant(2, 4, 1, 2)], linearizable: true },
  { name: 'a token going backwards after a returned grant', history: [grant(1, 5, 0, 1), grant(2, 4, 2, 3)], linearizable: false },
  { name: 'the same token granted twice', history: [grant(1, 3, 0, 2), grant(2, 3, 1, 3)], linearizable: false },
  { name: 'an unknown grant between two known ones', history: [grant(1, 1, 0, 1), grant(2, 'unknown', 2, 0), grant(3, 2, 3, 4)], linearizable: true },
  { name: 'tokens per resource are independent', history: [grant(1, 5, 0, 1, 'a'), grant(2, 1, 2, 3, 'b')], linearizable: true },
];

describe('fencingModel', () => {
  it.each(cases)('$name', ({ history, linearizable }) => {
    expect(checkLinearizable(fencingModel, history).result).toBe(linearizable ? 'ok' : 'illegal');
  });
});
