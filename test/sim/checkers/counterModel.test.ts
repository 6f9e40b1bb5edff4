// Proves that the bounded-counter model, under checkLinearizable, accepts histories where
// concurrent adds respect their bounds in some order and rejects a counter crossing its floor,
// a refusal that no order explains, and a read of a value the counter never held.

import { checkLinearizable, type Operation } from './linearizability';
import { counterModel, type CounterInput, type CounterOutput } from './counterModel';

type CounterOp = Operation<CounterInput, CounterOutput>;

const add = (c: number, delta: number, result: number | 'refused' | 'unknown', call: number, ret: number): CounterOp => ({
  clientId: c,
  input: { kind: 'add', key: 'n', delta, floor: 0, ceiling: 10 },
  call,
  output: result === 'unknown' ? 'unknown' : result === 'refused' ? { kind: 'add', applied: false } : { kind: 'add', applied: true, value: result },
  return: result === 'unknown' ? Infinity : ret,
});
const read = (c: number, value: number, call: number, ret: number): CounterOp =>
  ({ clientId: c, input: { kind: 'read', key: 'n' }, call, output: { kind: 'read', value }, return: ret });

const cases: { name: string; history: CounterOp[]; linearizable: boolean }[] = [
  { name: 'sequential adds and a read', history: [add(1, 3, 3, 0, 1), add(1, 2, 5, 2, 3), read(2, 5, 4, 5)], linearizable: true },
  {
    name: 'two concurrent decrements from 1: one applies, one is refused',
    history: [add(1, 1, 1, 0, 1), add(2, -1, 'refused', 2, 5), add(3, -1, 0, 2, 5), read(1, 0, 6, 7)],
    linearizable: true,
  },
  {
    name: 'two concurrent decrements from 1 both applied: the counter went below its floor',
    history: [add(1, 1, 1, 0, 1), add(2, -1, 0, 2, 5), add(3, -1, 0, 2, 5)],
    linearizable: false,
  },
  { name: 'a read below the floor', history: [add(1, 1, 1, 0, 1), read(2, -1, 2, 3)], linearizable: false },
  { name: 'an add refused although it fits', history: [add(1, 4, 4, 0, 1), add(2, 6, 'refused', 2, 3)], linearizable: false },
  { name: 'an add refused because it would cross the ceiling', history: [add(1, 6, 6, 0, 1), add(2, 5, 'refused', 2, 3)], linearizable: true },
  {
    name: 'concurrent adds observed in the only order that fits the bounds',
    history: [add(1, 5, 8, 0, 4), add(2, 8, 8, 0, 4), add(3, -5, 3, 0, 4)],
    linearizable: true,
  },
  { name: 'a read of a value the counter never held', history: [add(1, 2, 2, 0, 1), add(1, 2, 4, 2, 3), read(2, 3, 0, 5)], linearizable: false },
  { name: 'an add with an unknown outcome that took effect', history: [add(1, 2, 'unknown', 0, 0), read(2, 2, 3, 4)], linearizable: true },
];

describe('counterModel', () => {
  it.each(cases)('$name', ({ history, linearizable }) => {
    expect(checkLinearizable(counterModel, history).result).toBe(linearizable ? 'ok' : 'illegal');
  });

  it('keeps counters on different keys independent', () => {
    const other: CounterOp = { ...read(3, 7, 0, 1), input: { kind: 'read', key: 'm' } };
    const check = checkLinearizable(counterModel, [add(1, 2, 2, 0, 1), read(2, 2, 2, 3), other]);
    expect(check).toMatchObject({ result: 'illegal', partition: 1, partitions: 2 });
  });
});
