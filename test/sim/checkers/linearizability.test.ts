// Proves on hand-written KV histories with known answers that checkLinearizable accepts the
// linearizable ones, rejects the others with an explanation naming the operations involved, and
// treats an unknown outcome as "took effect at some point after its call, or never".

import { bruteForceLinearizable } from './bruteForceLinearizable';
import { kvOps, type KvOp } from './kvOps';
import { checkLinearizable, type Model } from './linearizability';
import { registerModel, type KvInput, type KvOutput, type KvState } from './registerModel';

const { get, put, del, cas } = kvOps;
const unpartitioned: Model<KvState, KvInput, KvOutput> = { ...registerModel, partition: undefined };

const cases: { name: string; history: KvOp[]; linearizable: boolean }[] = [
  { name: 'empty history', history: [], linearizable: true },
  {
    name: 'sequential writes and reads',
    history: [put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3, 1), put(1, 'x', 'b', 4, 5), get(2, 'x', 'b', 6, 7, 2)],
    linearizable: true,
  },
  {
    name: 'stale read after a completed write',
    history: [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'a', 4, 5)],
    linearizable: false,
  },
  {
    name: 'a read concurrent with a write may see either value',
    history: [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 6), get(2, 'x', 'a', 3, 4), get(3, 'x', 'b', 3, 5)],
    linearizable: true,
  },
  {
    name: 'a read that saw the new value forbids a later read of the old one',
    history: [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 9), get(2, 'x', 'b', 3, 4), get(3, 'x', 'a', 5, 6)],
    linearizable: false,
  },
  {
    name: 'operations touching at one instant are concurrent',
    history: [put(1, 'x', 'a', 0, 5), get(2, 'x', null, 5, 6)],
    linearizable: true,
  },
  {
    name: 'readers observing two concurrent writes in both orders',
    history: [
      put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 0, 10),
      get(3, 'x', 'a', 1, 2), get(3, 'x', 'b', 3, 4),
      get(4, 'x', 'b', 1, 2), get(4, 'x', 'a', 3, 4),
    ],
    linearizable: false,
  },
  {
    name: 'readers observing two concurrent writes in one order',
    history: [
      put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 0, 10),
      get(3, 'x', 'a', 1, 2), get(3, 'x', 'b', 3, 4),
      get(4, 'x', 'a', 1, 2), get(4, 'x', 'b', 3, 4),
    ],
    linearizable: true,
  },
  {
    name: 'a read of a value never written',
    history: [put(1, 'x', 'a', 0, 1), get(2, 'x', 'z', 0, 3)],
    linearizable: false,
  },
  {
    name: 'a CAS succeeding twice from the same expected value',
    history: [put(1, 'x', '0', 0, 1), cas(2, 'x', { value: '0' }, 'a', true, 2, 5), cas(3, 'x', { value: '0' }, 'b', true, 2, 5)],
    linearizable: false,
  },
  {
    name: 'two racing CASes where one wins',
    history: [put(1, 'x', '0', 0, 1), cas(2, 'x', { value: '0' }, 'a', true, 2, 5), cas(3, 'x', { value: '0' }, 'b', false, 2, 5), get(1, 'x', 'a', 6, 7)],
    linearizable: true,
  },
  {
    name: 'two create-if-absent CASes (modRevision 0) both succeeding',
    history: [cas(1, 'x', { modRevision: 0 }, 'a', true, 0, 5), cas(2, 'x', { modRevision: 0 }, 'b', true, 1, 4)],
    linearizable: false,
  },
  {
    name: 'a CAS on a revision after delete and recreate',
    history: [put(1, 'x', 'a', 0, 1), get(1, 'x', 'a', 2, 3, 1), del(2, 'x', true, 4, 5), put(2, 'x', 'b', 6, 7), cas(1, 'x', { modRevision: 1 }, 'c', false, 8, 9), get(1, 'x', 'b', 10, 11, 3)],
    linearizable: true,
  },
  {
    name: 'a read reporting a revision the key never had',
    history: [put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3, 7)],
    linearizable: false,
  },
  {
    name: 'a write with an unknown outcome that took effect late',
    history: [put(1, 'x', 'a', 0, Infinity), get(2, 'x', null, 5, 6), get(2, 'x', 'a', 7, 8)],
    linearizable: true,
  },
  {
    name: 'a write with an unknown outcome that never took effect',
    history: [put(1, 'x', 'a', 0, Infinity), get(2, 'x', null, 5, 6)],
    linearizable: true,
  },
  {
    name: 'a write with an unknown outcome cannot be undone',
    history: [put(1, 'x', 'a', 0, Infinity), get(2, 'x', 'a', 5, 6), get(2, 'x', null, 7, 8)],
    linearizable: false,
  },
  {
    name: 'a write with an unknown outcome cannot take effect before its call',
    history: [get(2, 'x', 'a', 0, 1), put(1, 'x', 'a', 2, Infinity)],
    linearizable: false,
  },
];

describe('checkLinearizable on hand-written KV histories', () => {
  it.each(cases)('$name', ({ history, linearizable }) => {
    const expected = linearizable ? 'ok' : 'illegal';
    expect(checkLinearizable(registerModel, history).result).toBe(expected);
    expect(checkLinearizable(unpartitioned, history).result).toBe(expected);
    expect(bruteForceLinearizable(registerModel, history)).toBe(linearizable);
  });

  it('explains a stale read with the longest prefix and the operations involved', () => {
    const history = [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'a', 4, 5)];
    const check = checkLinearizable(registerModel, history);
    if (check.result !== 'illegal') throw new Error(`expected illegal, got ${check.result}`);
    expect(check.longestPrefix).toEqual([history[0], history[1]]);
    expect(check.stuck).toEqual([history[2]]);
    expect(check.blockedBy).toBe(history[2]);
    expect(check.explanation).toContain('longest linearizable prefix has 2 ops');
    expect(check.explanation).toContain('client 2: get(x) -> "a" [4, 5]');
    expect(check.explanation).toContain('x="b"@2');
  });

  it('reports the failing partition and keeps the others out of the explanation', () => {
    const history = [put(1, 'y', 'a', 0, 1), get(2, 'y', 'a', 2, 3), put(1, 'x', 'a', 0, 1), get(2, 'x', 'z', 2, 3)];
    const check = checkLinearizable(registerModel, history);
    if (check.result !== 'illegal') throw new Error(`expected illegal, got ${check.result}`);
    expect(check.partitions).toBe(2);
    expect(check.partition).toBe(1);
    expect(check.explanation).not.toContain('(y)');
  });

  it('treats an unknown output with a finite return as pending forever', () => {
    const history: KvOp[] = [
      { clientId: 1, input: { kind: 'put', key: 'x', value: 'a' }, call: 0, output: 'unknown', return: 1 },
      get(2, 'x', null, 2, 3),
      get(2, 'x', 'a', 4, 5),
    ];
    expect(checkLinearizable(registerModel, history).result).toBe('ok');
  });

  it('returns a witness order per partition', () => {
    const history = [put(1, 'x', 'a', 0, 10), get(2, 'x', null, 1, 2), put(3, 'y', 'b', 0, 1)];
    const check = checkLinearizable(registerModel, history);
    if (check.result !== 'ok') throw new Error(check.result);
    expect(check.linearizations).toEqual([[history[1], history[0]], [history[2]]]);
  });

  it('rejects a malformed operation as a programmer error', () => {
    expect(() => checkLinearizable(registerModel, [put(1, 'x', 'a', 5, 4)])).toThrow('return 4');
  });
});
