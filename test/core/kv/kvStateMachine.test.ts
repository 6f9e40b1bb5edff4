// The authoritative state machine: MVCC revisions and reads at a revision, transactions that
// compare then write, leases that take their keys with them and grant growing fencing tokens,
// bounded counters that refuse (never clamp), compaction, and snapshot round trips. Refused
// commands change nothing.
import { DomainError } from '../../../services/core/errors/DomainError';
import { decodeCommand, encodeCommand } from '../../../services/core/kv/commandCodec';
import { KvStateMachine, leaseBytes } from '../../../services/core/kv/KvStateMachine';
import { Version, versionBytes } from '../../../services/core/kv/MvccStore';
import { smallValueBytes, StoredValue, valueBytes } from '../../../services/core/kv/storedValue';
import { encodeKvState, encodeKvStateInParts, KvStateParts } from '../../../services/core/kv/kvStateCodec';
import { KvStateSnapshot } from '../../../proto/gen/concord/v1/kv_state';
import { KvCommand, KvCommandResult, RangeQuery, RequestOp } from '../../../services/core/kv/types';
import { makePrng } from '../../sim/prng';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A stored value as the UTF-8 text its bytes hold. */
const text = (v: StoredValue | undefined): string => new TextDecoder().decode(v === undefined ? undefined : valueBytes(v));
const q = (key: string, extra: Partial<RangeQuery> = {}): RangeQuery => ({ key, rangeEnd: '', limit: 0, revision: 0, keysOnly: false, countOnly: false, ...extra });

function run(sm: KvStateMachine, cmd: KvCommand): KvCommandResult {
  // Every command goes through the log codec, as it does in the node.
  const r = sm.apply(sm.appliedIndex + 1, decodeCommand(encodeCommand(cmd)));
  if (r instanceof DomainError) throw r;
  return r;
}

function refused(sm: KvStateMachine, cmd: KvCommand): DomainError {
  const before = JSON.stringify(sm.store.dump());
  const r = sm.apply(sm.appliedIndex + 1, cmd);
  expect(r).toBeInstanceOf(DomainError);
  expect(JSON.stringify(sm.store.dump())).toBe(before);
  return r as DomainError;
}

test('puts advance the revision; old revisions stay readable until compacted', () => {
  const sm = new KvStateMachine();
  expect(run(sm, { type: 'put', key: 'a', value: b('1'), lease: 0, prevKv: false })).toMatchObject({ revision: 1 });
  run(sm, { type: 'put', key: 'a', value: b('2'), lease: 0, prevKv: false });
  run(sm, { type: 'put', key: 'b', value: b('x'), lease: 0, prevKv: false });
  const latest = sm.store.range(q('a'));
  expect(latest.kvs[0]).toMatchObject({ createRevision: 1, modRevision: 2, version: 2 });
  expect(text(sm.store.range(q('a', { revision: 1 })).kvs[0]?.value)).toBe('1');
  expect(sm.store.range(q('a', { rangeEnd: '\u0000' })).count).toBe(2);
  run(sm, { type: 'delete', key: 'a', rangeEnd: '', prevKv: true });
  expect(sm.store.range(q('a')).count).toBe(0);
  expect(text(sm.store.range(q('a', { revision: 3 })).kvs[0]?.value)).toBe('2');
  run(sm, { type: 'compact', revision: 3 });
  expect(() => sm.store.range(q('a', { revision: 2 }))).toThrow(/compacted/);
  expect(sm.store.range(q('b', { revision: 3 })).count).toBe(1);
  expect(sm.store.eventsSince(4).map((e) => e.revision)).toEqual([4]);
});

test('txn: compare-and-set succeeds once from the same expected value', () => {
  const sm = new KvStateMachine();
  run(sm, { type: 'put', key: 'k', value: b('v1'), lease: 0, prevKv: false });
  const cas = (expect1: string, next: string): KvCommand => ({
    type: 'txn',
    compare: [{ key: 'k', target: 'value', result: 'equal', value: b(expect1) }],
    success: [{ type: 'put', key: 'k', value: b(next), lease: 0, prevKv: false }],
    failure: [{ type: 'range', query: q('k') }],
  });
  expect(run(sm, cas('v1', 'v2'))).toMatchObject({ succeeded: true, revision: 2 });
  const second = run(sm, cas('v1', 'v3'));
  expect(second).toMatchObject({ succeeded: false, revision: 2 });
  expect(text(sm.store.get('k')?.value)).toBe('v2');
  // Compare on mod revision, and on a missing key's version (0).
  const create = run(sm, {
    type: 'txn', compare: [{ key: 'new', target: 'version', result: 'equal', number: 0 }],
    success: [{ type: 'put', key: 'new', value: b('claimed'), lease: 0, prevKv: false }], failure: [],
  });
  expect(create).toMatchObject({ succeeded: true });
});

test('leases: keys vanish with their lease; tokens only grow; puts on unknown leases are refused', () => {
  const sm = new KvStateMachine();
  const g1 = run(sm, { type: 'lease-grant', id: 0, ttlMs: 5000 }) as Extract<KvCommandResult, { type: 'lease-grant' }>;
  const g2 = run(sm, { type: 'lease-grant', id: 0, ttlMs: 5000 }) as Extract<KvCommandResult, { type: 'lease-grant' }>;
  expect(g2.fencingToken).toBeGreaterThan(g1.fencingToken);
  run(sm, { type: 'put', key: 'lock', value: b('me'), lease: g1.id, prevKv: false });
  run(sm, { type: 'put', key: 'other', value: b('x'), lease: g2.id, prevKv: false });
  // An expiry for an older grant of the same id is ignored; the right one removes the keys.
  expect(run(sm, { type: 'lease-expire', id: g1.id, grantToken: g1.fencingToken + 100 })).toMatchObject({ expired: false });
  expect(run(sm, { type: 'lease-expire', id: g1.id, grantToken: g1.fencingToken })).toMatchObject({ expired: true });
  expect(sm.store.get('lock')).toBeUndefined();
  expect(sm.store.get('other')).toBeDefined();
  expect(refused(sm, { type: 'put', key: 'lock', value: b('late'), lease: g1.id, prevKv: false }).kind).toBe('not-found');
  run(sm, { type: 'lease-revoke', id: g2.id });
  expect(sm.store.get('other')).toBeUndefined();
  expect(refused(sm, { type: 'lease-revoke', id: g2.id }).kind).toBe('not-found');
});

test('bounded counters refuse to cross a bound and never clamp', () => {
  const sm = new KvStateMachine();
  expect(run(sm, { type: 'counter-add', key: 'wallet/alice', delta: 100 })).toMatchObject({ value: 100 });
  expect(run(sm, { type: 'counter-add', key: 'wallet/alice', delta: -30, floor: 0 })).toMatchObject({ value: 70 });
  const e = refused(sm, { type: 'counter-add', key: 'wallet/alice', delta: -71, floor: 0 });
  expect(e.kind).toBe('conflict');
  expect(e.message).toMatch(/below the floor 0/);
  expect(text(sm.store.get('wallet/alice')?.value)).toBe('70');
  expect(refused(sm, { type: 'counter-add', key: 'wallet/alice', delta: 31, ceiling: 100 }).kind).toBe('conflict');
  run(sm, { type: 'put', key: 'notanumber', value: b('abc'), lease: 0, prevKv: false });
  expect(refused(sm, { type: 'counter-add', key: 'notanumber', delta: 1 }).kind).toBe('wrong-type');
});

test('a txn that would read a compacted revision is refused before any of its writes', () => {
  const sm = new KvStateMachine();
  run(sm, { type: 'put', key: 'a', value: b('1'), lease: 0, prevKv: false });
  run(sm, { type: 'put', key: 'a', value: b('2'), lease: 0, prevKv: false });
  run(sm, { type: 'compact', revision: 2 });
  refused(sm, {
    type: 'txn', compare: [],
    success: [{ type: 'put', key: 'z', value: b('1'), lease: 0, prevKv: false }, { type: 'range', query: q('a', { revision: 1 }) }],
    failure: [],
  });
  expect(sm.store.get('z')).toBeUndefined();
});

test('snapshot and restore give the same state', () => {
  const sm = new KvStateMachine();
  const g = run(sm, { type: 'lease-grant', id: 7, ttlMs: 3000 }) as Extract<KvCommandResult, { type: 'lease-grant' }>;
  run(sm, { type: 'put', key: 'a', value: b('\u0000\u00ff binary'), lease: g.id, prevKv: false });
  run(sm, { type: 'counter-add', key: 'c', delta: 5 });
  const copy = KvStateMachine.restore(sm.snapshot());
  expect(copy.store.range(q('', { rangeEnd: '\u0000' }))).toEqual(sm.store.range(q('', { rangeEnd: '\u0000' })));
  expect(copy.leaseIds()).toEqual(sm.leaseIds());
  run(copy, { type: 'lease-revoke', id: 7 });
  expect(copy.store.get('a')).toBeUndefined();
  expect(run(copy, { type: 'lease-grant', id: 0, ttlMs: 3000 })).toMatchObject({ id: 8, fencingToken: 2 });
});

test('snapshots keep history and watch events exactly, under random commands (seeded)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const p = makePrng(seed);
    const sm = new KvStateMachine();
    const key = (): string => `k${p.int(8)}`;
    const put = (): RequestOp => ({ type: 'put', key: key(), value: b(`v${p.int(1000)}`), lease: 0, prevKv: false });
    const del = (): RequestOp => ({ type: 'delete', key: key(), rangeEnd: p.chance(0.3) ? 'k9' : '', prevKv: false });
    for (let i = 0; i < 300; i++) {
      const r = p.next();
      const cmd: KvCommand = r < 0.5 ? put() as KvCommand
        : r < 0.65 ? del() as KvCommand
          // A transaction's events share a revision; the snapshot must keep their order.
          : r < 0.9 ? { type: 'txn', compare: [], success: [put(), put(), del(), put()], failure: [] }
            : { type: 'compact', revision: Math.max(sm.store.compactRevision + 1, sm.store.revision - p.int(20)) };
      sm.apply(sm.appliedIndex + 1, decodeCommand(encodeCommand(cmd)));
    }
    const copy = KvStateMachine.restore(sm.snapshot());
    const where = `seed ${seed} (replay: this test loops over seeds 1..30)`;
    const all = (m: KvStateMachine, rev: number): unknown => m.store.range(q('', { rangeEnd: '\u0000', revision: rev }));
    for (let rev = Math.max(1, sm.store.compactRevision); rev <= sm.store.revision; rev++) expect([where, all(copy, rev)]).toEqual([where, all(sm, rev)]);
    expect([where, copy.store.eventsSince(sm.store.compactRevision + 1)]).toEqual([where, sm.store.eventsSince(sm.store.compactRevision + 1)]);
    expect(copy.snapshot()).toEqual(sm.snapshot());
  }
});

test('a snapshot captured at a moment and encoded in parts later is the state of that moment (seeded)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const p = makePrng(seed);
    const sm = new KvStateMachine();
    const key = (): string => `k${p.int(12)}`;
    const step = (): void => {
      const r = p.next();
      const cmd: KvCommand = r < 0.5 ? { type: 'put', key: key(), value: b(`v${p.int(1000)}`), lease: 0, prevKv: false }
        : r < 0.65 ? { type: 'delete', key: key(), rangeEnd: p.chance(0.3) ? 'k9' : '', prevKv: false }
          : r < 0.75 ? { type: 'lease-grant', id: 0, ttlMs: 3000 }
            : r < 0.9 ? { type: 'txn', compare: [], success: [{ type: 'put', key: key(), value: b('t'), lease: 0, prevKv: false }, { type: 'put', key: key(), value: b('u'), lease: 0, prevKv: false }], failure: [] }
              : { type: 'compact', revision: Math.max(sm.store.compactRevision + 1, sm.store.revision - p.int(20)) };
      sm.apply(sm.appliedIndex + 1, decodeCommand(encodeCommand(cmd)));
    };
    for (let i = 0; i < 200; i++) step();
    const atOnce = sm.snapshot();
    const parts = sm.snapshotParts();
    // The state moves on (new versions, tombstones, leases, compactions) before the encoding.
    for (let i = 0; i < 200; i++) step();
    const later = Buffer.concat([...encodeKvStateInParts(parts, 1 + p.int(4), 1 + p.int(6))]);
    const where = `seed ${seed} (replay: this test loops over seeds 1..20)`;
    expect([where, KvStateMachine.restore(later).snapshot()]).toEqual([where, KvStateMachine.restore(atOnce).snapshot()]);
    expect([where, Buffer.from(later).equals(Buffer.from(atOnce))]).toEqual([where, true]);
  }
});

test('compaction keeps exactly what a full scan of every key would keep, and the store\'s size counts what it keeps, after restores too (seeded)', () => {
  type Hist = [string, Version[]][];
  const histOf = (m: KvStateMachine): Hist => {
    const d = m.store.dump();
    return d.keys.map((k, i) => [k, (d.lists[i] as Version[]).slice(0, d.counts[i])]);
  };
  // The reference: every key visited, versions no read at >= revision can see dropped.
  const fullScan = (h: Hist, revision: number): Hist => h.flatMap(([k, versions]): Hist => {
    let from = 0;
    versions.forEach((v, i) => { if (v.kv.modRevision <= revision) from = i; });
    let kept = versions.slice(from);
    if (kept[0]?.deleted === true && kept[0].kv.modRevision <= revision) kept = kept.slice(1);
    return kept.length === 0 ? [] : [[k, kept]];
  });
  const sizeOf = (h: Hist): number => h.reduce((n, [k, versions]) => versions.reduce((m, v) => m + versionBytes(k, v.kv.value.length), n), 0);
  for (let seed = 1; seed <= 20; seed++) {
    const p = makePrng(seed);
    let sm = new KvStateMachine();
    const key = (): string => `k${p.int(30)}`;
    const where = `seed ${seed} (replay: this test loops over seeds 1..20)`;
    const leases: number[] = [];
    for (let i = 0; i < 400; i++) {
      if (i > 0) expect([where, i - 1, sm.store.bytes, sm.bytes]).toEqual([where, i - 1, sizeOf(histOf(sm)), sizeOf(histOf(sm)) + leases.length * leaseBytes]);
      const r = p.next();
      if (r < 0.05) {
        sm = KvStateMachine.restore(sm.snapshot());
        continue;
      }
      if (r < 0.15 && sm.store.revision > sm.store.compactRevision) {
        const revision = sm.store.compactRevision + 1 + p.int(sm.store.revision - sm.store.compactRevision);
        const want = fullScan(histOf(sm), revision);
        sm.apply(sm.appliedIndex + 1, { type: 'compact', revision });
        expect([where, i, histOf(sm)]).toEqual([where, i, want]);
        continue;
      }
      const value = (): Uint8Array => (p.chance(0.1) ? new Uint8Array(smallValueBytes + p.int(50)) : b(`v${i}`.repeat(1 + p.int(4))));
      const lease = leases.length > 0 && p.chance(0.3) ? (leases[p.int(leases.length)] as number) : 0;
      const cmd: KvCommand = r < 0.55 ? { type: 'put', key: key(), value: value(), lease, prevKv: false }
        : r < 0.65 ? { type: 'txn', compare: [], success: [{ type: 'put', key: `k${i % 30}`, value: value(), lease: 0, prevKv: false }, { type: 'put', key: `k${i % 30}`, value: value(), lease: 0, prevKv: false }, { type: 'delete', key: key(), rangeEnd: '', prevKv: false }], failure: [] }
          : r < 0.7 ? { type: 'counter-add', key: `c${p.int(3)}`, delta: p.int(2000) - 1000 }
            : r < 0.75 ? { type: 'lease-grant', id: 0, ttlMs: 5000 }
              : r < 0.8 && leases.length > 0 ? { type: 'lease-revoke', id: leases.splice(p.int(leases.length), 1)[0] as number }
                : { type: 'delete', key: key(), rangeEnd: p.chance(0.2) ? `k${p.int(30)}` : '', prevKv: false };
      const res = sm.apply(sm.appliedIndex + 1, cmd);
      if (!(res instanceof DomainError) && res?.type === 'lease-grant') leases.push(res.id);
    }
  }
});

test('ranges list exactly the live keys in [key, range_end), in order, as keys come and go (seeded)', () => {
  const alphabet = ['a', 'b', 'z', '/', '0', '\u00e9', '\u4e2d', '\ud83d\ude00'];
  for (let seed = 1; seed <= 10; seed++) {
    const p = makePrng(seed);
    const sm = new KvStateMachine();
    const live = new Set<string>();
    const word = (): string => Array.from({ length: 1 + p.int(3) }, () => alphabet[p.int(alphabet.length)]).join('');
    const where = `seed ${seed} (replay: this test loops over seeds 1..10)`;
    for (let i = 0; i < 600; i++) {
      const r = p.next();
      const k = word();
      if (r < 0.6) {
        run(sm, { type: 'put', key: k, value: b('v'), lease: 0, prevKv: false });
        live.add(k);
      } else if (r < 0.8) {
        run(sm, { type: 'delete', key: k, rangeEnd: '', prevKv: false });
        live.delete(k);
      } else if (r < 0.85 && sm.store.revision > sm.store.compactRevision) {
        run(sm, { type: 'compact', revision: sm.store.revision });
      }
      const [lo, hi] = [word(), p.chance(0.2) ? '\u0000' : word()];
      const want = [...live].filter((x) => x >= lo && (hi === '\u0000' || x < hi)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      expect([where, i, sm.store.range(q(lo, { rangeEnd: hi })).kvs.map((kv) => kv.key)]).toEqual([where, i, want]);
    }
  }
});

test('the snapshot encoding writes events and keys byte for byte as the generated encoder, and decodes the same (seeded)', () => {
  const generated = (p: KvStateParts): Uint8Array => KvStateSnapshot.encode({
    revision: BigInt(p.store.revision), compactRevision: BigInt(p.store.compactRevision), appliedIndex: BigInt(p.appliedIndex),
    lastLeaseId: BigInt(p.lastLeaseId), lastFencingToken: BigInt(p.lastFencingToken),
    keys: p.store.keys.map((key, i) => ({
      key,
      versions: (p.store.lists[i] as Version[]).slice(0, p.store.counts[i]).map((v) => ({
        value: valueBytes(v.kv.value), createRevision: BigInt(v.kv.createRevision), modRevision: BigInt(v.kv.modRevision),
        version: BigInt(v.kv.version), lease: BigInt(v.kv.lease), deleted: v.deleted,
      })),
    })),
    events: p.store.eventKeys.map((e) => ({ revision: BigInt(e.revision), keys: [...e.keys] })),
    leases: p.leases.map((l) => ({ id: BigInt(l.id), ttlMs: BigInt(l.ttlMs), fencingToken: BigInt(l.fencingToken), keys: [...l.keys] })),
  }).finish();
  for (let seed = 1; seed <= 10; seed++) {
    const p = makePrng(seed);
    const sm = new KvStateMachine();
    for (let i = 0; i < 150; i++) {
      const r = p.next();
      // Empty keys, and keys of two-, three- and four-byte characters, as well.
      const key = p.chance(0.05) ? '' : p.chance(0.15) ? `ké€😀${p.int(5)}` : `k${p.int(20)}`;
      const cmd: KvCommand = r < 0.6 ? { type: 'put', key, value: p.chance(0.1) ? b('') : p.chance(0.05) ? new Uint8Array(smallValueBytes + p.int(100)).fill(0x80 + p.int(128)) : b(`v${p.int(1e6)}`), lease: 0, prevKv: false }
        : r < 0.75 ? { type: 'delete', key, rangeEnd: '', prevKv: false }
          : r < 0.85 ? { type: 'lease-grant', id: 0, ttlMs: 3000 }
            : { type: 'compact', revision: Math.max(sm.store.compactRevision + 1, sm.store.revision - p.int(10)) };
      sm.apply(sm.appliedIndex + 1, cmd);
    }
    // Numbers past 32 bits take the 64-bit varint path.
    const parts = sm.snapshotParts();
    const lists = parts.store.lists.map((v) => v.map((x) => ({ ...x, kv: { ...x.kv, modRevision: x.kv.modRevision + 2 ** 35 } })));
    const eventKeys = parts.store.eventKeys.map((e) => ({ ...e, revision: e.revision + 2 ** 35 }));
    const big = { ...parts, appliedIndex: 2 ** 40 + seed, store: { ...parts.store, lists, eventKeys } };
    const where = `seed ${seed} (replay: this test loops over seeds 1..10)`;
    for (const q of [parts, big]) {
      // After the header part, the events' parts then the keys' parts, byte for byte; the whole
      // decodes the same.
      const bare = { ...q, appliedIndex: 0, lastLeaseId: 0, lastFencingToken: 0, leases: [] };
      const keysOnly = { ...bare, store: { ...q.store, revision: 0, compactRevision: 0, eventKeys: [] } };
      const eventsOnly = { ...bare, store: { ...q.store, revision: 0, compactRevision: 0, keys: [], lists: [], counts: [] } };
      const rest = Buffer.concat([...encodeKvStateInParts(q, 1 + p.int(7), 1 + p.int(9))].slice(1));
      expect([where, rest.equals(Buffer.concat([generated(eventsOnly), generated(keysOnly)]))]).toEqual([where, true]);
      expect([where, KvStateSnapshot.decode(encodeKvState(q))]).toEqual([where, KvStateSnapshot.decode(generated(q))]);
    }
  }
});

test('a stored value is a copy of its bytes, small or large: neither the message nor the snapshot it came from stays behind it', () => {
  const sm = new KvStateMachine();
  const small = Buffer.from('hello \u00ff\u0000 world', 'latin1');
  const large = Buffer.alloc(smallValueBytes + 5, 0x80);
  large[0] = 0xff;
  // Buffer views, as a command decoded from a Raft message holds (Buffer's slice() is a view too).
  const message = Buffer.concat([Buffer.from('--'), small, large, Buffer.from('--')]);
  const put = (key: string, from: number, length: number): void => {
    expect(sm.apply(sm.appliedIndex + 1, { type: 'put', key, value: message.subarray(from, from + length), lease: 0, prevKv: false })).not.toBeInstanceOf(DomainError);
  };
  put('small', 2, small.length);
  put('large', 2 + small.length, large.length);
  message.fill(1);
  const bytesOf = (m: KvStateMachine, key: string): Buffer => Buffer.from(valueBytes(m.store.get(key)!.value));
  expect(bytesOf(sm, 'small')).toEqual(small);
  expect(bytesOf(sm, 'large')).toEqual(large);
  expect(typeof sm.store.get('small')!.value).toBe('string');
  expect(sm.store.get('large')!.value).toBeInstanceOf(Uint8Array);
  const snapshot = Buffer.from(sm.snapshot());
  const restored = KvStateMachine.restore(snapshot);
  snapshot.fill(1);
  expect(bytesOf(restored, 'small')).toEqual(small);
  expect(bytesOf(restored, 'large')).toEqual(large);
  // Value compares follow byte order across both forms (0x80 sorts after 0x7f, before 0xff).
  const holds = (key: string, result: 'equal' | 'less' | 'greater', value: Uint8Array): boolean => {
    const r = run(sm, { type: 'txn', compare: [{ key, target: 'value', result, value }], success: [], failure: [] });
    return r.type === 'txn' && r.succeeded;
  };
  expect(holds('small', 'equal', small)).toBe(true);
  expect(holds('large', 'equal', large)).toBe(true);
  expect(holds('large', 'greater', small)).toBe(true); // 0xff > 'h'
  expect(holds('small', 'less', large)).toBe(true);
  expect(holds('small', 'greater', Buffer.from('hello \u007f', 'latin1'))).toBe(true);
  expect(holds('large', 'less', Buffer.alloc(smallValueBytes + 5, 0xff))).toBe(true);
  expect(holds('large', 'greater', Buffer.from([0xff, 0x80]))).toBe(true); // a prefix sorts first
});
