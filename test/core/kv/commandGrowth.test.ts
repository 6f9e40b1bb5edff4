// What a command can add to the KV store's size, which the quota is checked against before it
// is proposed: a version per put, the larger branch of a transaction, a counter's version, a
// lease; nothing for deletes, compaction and revoking leases, so a full store can make room.
import { commandGrowth } from '../../../services/core/kv/commandGrowth';
import { leaseBytes } from '../../../services/core/kv/KvStateMachine';
import { versionBytes } from '../../../services/core/kv/MvccStore';
import { RequestOp } from '../../../services/core/kv/types';

const put = (key: string, bytes: number): RequestOp => ({ type: 'put', key, value: new Uint8Array(bytes), lease: 0, prevKv: false });

test('puts count their key, value and bookkeeping; a transaction its larger branch', () => {
  expect(commandGrowth({ type: 'put', key: 'a/b', value: new Uint8Array(100), lease: 0, prevKv: false })).toBe(versionBytes('a/b', 100));
  const small = [put('x', 1)];
  const large = [put('y', 500), put('z', 10), { type: 'delete', key: 'w', rangeEnd: '', prevKv: false } as RequestOp];
  expect(commandGrowth({ type: 'txn', compare: [], success: small, failure: large })).toBe(versionBytes('y', 500) + versionBytes('z', 10));
  expect(commandGrowth({ type: 'txn', compare: [], success: large, failure: [] })).toBe(versionBytes('y', 500) + versionBytes('z', 10));
  expect(commandGrowth({ type: 'counter-add', key: 'wallet', delta: 5 })).toBeGreaterThan(versionBytes('wallet', 0));
  expect(commandGrowth({ type: 'lease-grant', id: 0, ttlMs: 5000 })).toBe(leaseBytes);
});

test('what frees room or holds none adds nothing', () => {
  expect(commandGrowth({ type: 'delete', key: 'a', rangeEnd: '\u0000', prevKv: true })).toBe(0);
  expect(commandGrowth({ type: 'compact', revision: 10 })).toBe(0);
  expect(commandGrowth({ type: 'lease-revoke', id: 3 })).toBe(0);
  expect(commandGrowth({ type: 'txn', compare: [], success: [{ type: 'range', query: { key: 'a', rangeEnd: '', limit: 0, revision: 0, keysOnly: false, countOnly: false } }], failure: [] })).toBe(0);
});
