// Every method of the client services has its access rule (a new RPC without one is refused to
// everyone, and this test names it); streams of requests are checked per message; the rules
// for transactions, previous values and leases follow etcd's.
import { AdminServiceService } from '../../proto/gen/concord/v1/admin';
import { DocumentServiceService } from '../../proto/gen/concord/v1/documents';
import * as pb from '../../proto/gen/concord/v1/kv';
import { requiredAccess } from '../../services/rpc/requiredAccess';

const noLeases = (): undefined => undefined;

test('every client method has a rule; methods taking a stream of requests are checked per message', () => {
  const methods = [DocumentServiceService, pb.KvServiceService, AdminServiceService].flatMap((s) => Object.values(s));
  for (const m of methods) {
    const rule = requiredAccess(m.path, m.requestDeserialize(Buffer.alloc(0)), noLeases);
    const noRule = Array.isArray(rule) && rule.some((n) => n.resource === 'admin' && n.range !== undefined);
    expect([m.path, noRule]).toEqual([m.path, false]);
    expect([m.path, rule === 'per-message']).toEqual([m.path, m.requestStream]);
  }
  expect(requiredAccess('/concord.v1.AdminService/Status', {}, noLeases)).toBe('open');
  expect(requiredAccess('/concord.v1.AdminService/WhoAmI', {}, noLeases)).toBe('open');
  // A method the table does not know needs what nobody holds.
  expect(requiredAccess('/concord.v1.KvService/Unknown', {}, noLeases)).toEqual([{ resource: 'admin', access: 'write', range: { key: '/concord.v1.KvService/Unknown', rangeEnd: '' } }]);
});

test('documents: writes, reads and listings by id or prefix', () => {
  expect(requiredAccess('/concord.v1.DocumentService/Apply', { documentId: 'd' }, noLeases)).toEqual([{ resource: 'documents', access: 'write', range: { key: 'd', rangeEnd: '' } }]);
  expect(requiredAccess('/concord.v1.DocumentService/Watch', { documentId: 'd' }, noLeases)).toEqual([{ resource: 'documents', access: 'read', range: { key: 'd', rangeEnd: '' } }]);
  expect(requiredAccess('/concord.v1.DocumentService/List', { prefix: 'app/' }, noLeases)).toEqual([{ resource: 'documents', access: 'read', range: { key: 'app/', rangeEnd: 'app0' } }]);
  expect(requiredAccess('/concord.v1.DocumentService/List', { prefix: '' }, noLeases)).toEqual([{ resource: 'documents', access: 'read', range: { key: '', rangeEnd: '\u0000' } }]);
});

test('kv: a transaction needs read on what it compares and each operation its own; previous values are reads', () => {
  const txn = pb.TxnRequest.fromPartial({
    compare: [{ key: 'c' }],
    success: [{ request: { $case: 'requestPut', value: pb.PutRequest.fromPartial({ key: 'p', prevKv: true }) } }],
    failure: [{ request: { $case: 'requestRange', value: pb.RangeRequest.fromPartial({ key: 'r', rangeEnd: 's' }) } }, { request: { $case: 'requestDeleteRange', value: pb.DeleteRangeRequest.fromPartial({ key: 'd', rangeEnd: 'e' }) } }],
  });
  expect(requiredAccess('/concord.v1.KvService/Txn', txn, noLeases)).toEqual([
    { resource: 'kv', access: 'read', range: { key: 'c', rangeEnd: '' } },
    { resource: 'kv', access: 'write', range: { key: 'p', rangeEnd: '' } },
    { resource: 'kv', access: 'read', range: { key: 'p', rangeEnd: '' } },
    { resource: 'kv', access: 'read', range: { key: 'r', rangeEnd: 's' } },
    { resource: 'kv', access: 'write', range: { key: 'd', rangeEnd: 'e' } },
  ]);
  expect(requiredAccess('/concord.v1.KvService/DeleteRange', pb.DeleteRangeRequest.fromPartial({ key: 'a', rangeEnd: 'b', prevKv: true }), noLeases)).toEqual([
    { resource: 'kv', access: 'write', range: { key: 'a', rangeEnd: 'b' } },
    { resource: 'kv', access: 'read', range: { key: 'a', rangeEnd: 'b' } },
  ]);
  expect(requiredAccess('/concord.v1.KvService/Put', pb.PutRequest.fromPartial({ key: 'a' }), noLeases)).toEqual([{ resource: 'kv', access: 'write', range: { key: 'a', rangeEnd: '' } }]);
  expect(requiredAccess('/concord.v1.KvService/CounterAdd', pb.CounterAddRequest.fromPartial({ key: 'n' }), noLeases)).toEqual([
    { resource: 'kv', access: 'write', range: { key: 'n', rangeEnd: '' } },
    { resource: 'kv', access: 'read', range: { key: 'n', rangeEnd: '' } },
  ]);
  expect(requiredAccess('/concord.v1.KvService/Compact', {}, noLeases)).toEqual([{ resource: 'admin', access: 'write' }]);
});

test('leases: granting needs some kv write; revoking needs write on every key it would delete', () => {
  expect(requiredAccess('/concord.v1.KvService/LeaseGrant', {}, noLeases)).toEqual([{ resource: 'kv', access: 'write' }]);
  const keys = (id: number): string[] | undefined => (id === 7 ? ['a', 'b'] : undefined);
  expect(requiredAccess('/concord.v1.KvService/LeaseRevoke', { id: 7n }, keys)).toEqual([
    { resource: 'kv', access: 'write' },
    { resource: 'kv', access: 'write', range: { key: 'a', rangeEnd: '' } },
    { resource: 'kv', access: 'write', range: { key: 'b', rangeEnd: '' } },
  ]);
  expect(requiredAccess('/concord.v1.KvService/LeaseRevoke', { id: 8n }, keys)).toEqual([{ resource: 'kv', access: 'write' }]);
});

test('leases: time to live and the list need some kv read; listing a lease keys needs read on each of them', () => {
  const keys = (id: number): string[] | undefined => (id === 7 ? ['a', 'b'] : undefined);
  expect(requiredAccess('/concord.v1.KvService/LeaseTimeToLive', { id: 7n, keys: false }, keys)).toEqual([{ resource: 'kv', access: 'read' }]);
  expect(requiredAccess('/concord.v1.KvService/LeaseTimeToLive', { id: 7n, keys: true }, keys)).toEqual([
    { resource: 'kv', access: 'read' },
    { resource: 'kv', access: 'read', range: { key: 'a', rangeEnd: '' } },
    { resource: 'kv', access: 'read', range: { key: 'b', rangeEnd: '' } },
  ]);
  expect(requiredAccess('/concord.v1.KvService/LeaseLeases', {}, keys)).toEqual([{ resource: 'kv', access: 'read' }]);
});
