// KV commands as authoritative log entries: every command survives encode/decode exactly (the
// voters apply what the leader proposed), entries written in the earlier JSON format still
// decode, and the trace context is found at the head of either format without decoding.
import { decodeCommand, encodeCommand, kvLogFormatFor, traceparentOfEntry } from '../../../services/core/kv/commandCodec';
import { Compare, KvCommand, RequestOp } from '../../../services/core/kv/types';
import { makePrng, Prng } from '../../sim/prng';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const every: KvCommand[] = [
  { type: 'put', key: 'a', value: b('1'), lease: 0, prevKv: false },
  { type: 'put', key: 'lock/x', value: new Uint8Array([0, 255, 7]), lease: 9_007_199_254_740_991, prevKv: true },
  { type: 'put', key: 'empty', value: new Uint8Array(), lease: 3, prevKv: false },
  { type: 'delete', key: 'a', rangeEnd: '', prevKv: false },
  { type: 'delete', key: 'a', rangeEnd: '\u0000', prevKv: true },
  {
    type: 'txn',
    compare: [
      { key: 'a', target: 'version', result: 'equal', number: 0 },
      { key: 'a', target: 'mod', result: 'less', number: -5 },
      { key: 'b', target: 'value', result: 'not-equal', value: b('x') },
      { key: 'c', target: 'lease', result: 'greater', number: 12 },
      { key: 'd', target: 'create', result: 'equal' },
    ],
    success: [
      { type: 'put', key: 'a', value: b('2'), lease: 0, prevKv: true },
      { type: 'range', query: { key: 'a', rangeEnd: 'z', limit: 10, revision: 4, keysOnly: true, countOnly: false } },
    ],
    failure: [{ type: 'delete', key: 'a', rangeEnd: 'b', prevKv: false }],
  },
  { type: 'txn', compare: [], success: [], failure: [] },
  { type: 'compact', revision: 12_345 },
  { type: 'lease-grant', id: 0, ttlMs: 3000 },
  { type: 'lease-revoke', id: 7 },
  { type: 'lease-expire', id: 7, grantToken: 2 },
  { type: 'counter-add', key: 'stock', delta: -3 },
  { type: 'counter-add', key: 'stock', delta: 5, floor: 0, ceiling: 100 },
  { type: 'counter-add', key: 'stock', delta: 1, floor: -10 },
];

test('every kind of command decodes to exactly what was encoded, traced or not, and no entry starts like JSON', () => {
  for (const cmd of every) {
    for (const tp of ['', traceparent]) {
      const data = encodeCommand(cmd, tp);
      expect(data[0]).not.toBe('{'.charCodeAt(0));
      expect(decodeCommand(data)).toEqual(cmd);
      expect(traceparentOfEntry(data)).toBe(tp === '' ? undefined : tp);
    }
  }
});

test('the JSON format (what earlier versions read) round-trips every command too, trace context first', () => {
  for (const cmd of every) {
    for (const tp of ['', traceparent]) {
      const data = encodeCommand(cmd, tp, 'json');
      expect(data[0]).toBe('{'.charCodeAt(0));
      expect(traceparentOfEntry(data)).toBe(tp === '' ? undefined : tp);
      const decoded = decodeCommand(data) as KvCommand & { traceparent?: string };
      expect(decoded).toEqual(tp === '' ? cmd : { traceparent: tp, ...cmd });
    }
  }
});

test('a leader writes protobuf only once every other voter has said it reads it', () => {
  const voters = ['n1', 'n2', 'n3'];
  expect(kvLogFormatFor(voters, 'n1', new Set())).toBe('json');
  expect(kvLogFormatFor(voters, 'n1', new Set(['n2']))).toBe('json');
  expect(kvLogFormatFor(voters, 'n1', new Set(['n2', 'n3']))).toBe('protobuf');
  // Its own support needs no saying; a non-voter's does not count.
  expect(kvLogFormatFor(voters, 'n1', new Set(['n2', 'n4']))).toBe('json');
  expect(kvLogFormatFor(['n1'], 'n1', new Set())).toBe('protobuf');
});

/** An entry as versions before the protobuf format wrote it: JSON, bytes as { $bytes: base64 }. */
function legacyJson(cmd: Record<string, unknown>): Uint8Array {
  return b(JSON.stringify(cmd, (_k, v: unknown) => (v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('base64') } : v)));
}

test('entries written in the earlier JSON format still decode, and their trace context is still found', () => {
  const put: KvCommand = { type: 'put', key: 'k', value: new Uint8Array([1, 2, 250]), lease: 0, prevKv: false };
  expect(decodeCommand(legacyJson({ ...put }))).toEqual(put);
  const traced = legacyJson({ traceparent, ...put });
  expect(traceparentOfEntry(traced)).toBe(traceparent);
  expect(decodeCommand(traced)).toMatchObject(put);
  const txn = every[5] as KvCommand;
  expect(decodeCommand(legacyJson({ ...txn }))).toEqual(txn);
});

test('random commands round-trip (seeded)', () => {
  const key = (p: Prng): string => `k${p.int(50)}${p.chance(0.1) ? '\u00e9\u4e2d' : ''}`;
  const int = (p: Prng, signed: boolean): number => {
    const n = p.chance(0.2) ? p.int(2 ** 31) * 2 ** 20 + p.int(2 ** 20) : p.int(1000);
    return signed && p.chance(0.5) ? -n : n;
  };
  const bytes = (p: Prng): Uint8Array => Uint8Array.from({ length: p.int(40) }, () => p.int(256));
  const op = (p: Prng): RequestOp => {
    const r = p.int(3);
    if (r === 0) return { type: 'put', key: key(p), value: bytes(p), lease: int(p, false), prevKv: p.chance(0.5) };
    if (r === 1) return { type: 'delete', key: key(p), rangeEnd: p.chance(0.5) ? '' : key(p), prevKv: p.chance(0.5) };
    return { type: 'range', query: { key: key(p), rangeEnd: key(p), limit: int(p, false), revision: int(p, false), keysOnly: p.chance(0.5), countOnly: p.chance(0.5) } };
  };
  const compare = (p: Prng): Compare => {
    const targets = ['version', 'create', 'mod', 'value', 'lease'] as const;
    const results = ['equal', 'greater', 'less', 'not-equal'] as const;
    const target = targets[p.int(targets.length)] as Compare['target'];
    const result = results[p.int(results.length)] as Compare['result'];
    return target === 'value' ? { key: key(p), target, result, value: bytes(p) } : { key: key(p), target, result, number: int(p, true) };
  };
  for (let seed = 1; seed <= 20; seed++) {
    const p = makePrng(seed);
    for (let i = 0; i < 100; i++) {
      const kind = p.int(5);
      const cmd: KvCommand = kind === 0 ? { type: 'put', key: key(p), value: bytes(p), lease: int(p, false), prevKv: p.chance(0.5) }
        : kind === 1 ? { type: 'txn', compare: Array.from({ length: p.int(4) }, () => compare(p)), success: Array.from({ length: p.int(4) }, () => op(p)), failure: Array.from({ length: p.int(3) }, () => op(p)) }
          : kind === 2 ? { type: 'counter-add', key: key(p), delta: int(p, true), ...(p.chance(0.5) ? { floor: int(p, true) } : {}), ...(p.chance(0.5) ? { ceiling: int(p, true) } : {}) }
            : kind === 3 ? { type: 'lease-expire', id: int(p, false), grantToken: int(p, false) }
              : { type: 'compact', revision: int(p, false) };
      const where = `seed ${seed}, command ${i} (replay: this test loops over seeds 1..20)`;
      expect([where, decodeCommand(encodeCommand(cmd, p.chance(0.5) ? traceparent : ''))]).toEqual([where, cmd]);
    }
  }
});
