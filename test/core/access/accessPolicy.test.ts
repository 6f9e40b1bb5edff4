// The access policy: strict parsing (every mistake named where it is, never a permission lost or
// widened in silence), and what users may do through their roles.
import { AccessPolicy, describeNeed, Need } from '../../../services/core/access/AccessPolicy';
import { prefixRangeEnd } from '../../../services/core/kv/prefixRangeEnd';

const policy = AccessPolicy.parse(JSON.stringify({
  roles: {
    app: {
      documents: [{ prefix: 'app/', access: 'readwrite' }, { id: 'shared/board', access: 'read' }],
      kv: [{ prefix: 'app/', access: 'readwrite' }, { key: 'config/flags', access: 'read' }, { key: 'm', rangeEnd: 'p', access: 'write' }],
    },
    reader: { documents: [{ prefix: '', access: 'read' }], kv: [{ prefix: '', access: 'read' }] },
    operator: { admin: 'readwrite' },
    nothing: {},
  },
  users: { alice: { roles: ['app'] }, bob: { roles: ['reader'] }, ops: { roles: ['operator', 'reader'] }, eve: { roles: [] } },
}), 'policy.json');

const doc = (access: 'read' | 'write', id: string): Need => ({ resource: 'documents', access, range: { key: id, rangeEnd: '' } });
const docs = (prefix: string): Need => ({ resource: 'documents', access: 'read', range: { key: prefix, rangeEnd: prefix === '' ? '\u0000' : prefixRangeEnd(prefix) } });
const kv = (access: 'read' | 'write', key: string, rangeEnd = ''): Need => ({ resource: 'kv', access, range: { key, rangeEnd } });

test('users may do what their roles grant, and nothing else', () => {
  expect(policy.refusal('alice', [doc('write', 'app/x'), doc('read', 'app/x'), doc('read', 'shared/board'), docs('app/'), docs('app/sub/')])).toBeUndefined();
  expect(policy.refusal('alice', [kv('write', 'app/k'), kv('read', 'config/flags'), kv('write', 'n'), kv('write', 'm', 'p'), { resource: 'kv', access: 'write' }])).toBeUndefined();
  expect(policy.refusal('alice', [doc('write', 'shared/board')])).toBe('"alice" (roles: app) may not write document "shared/board"');
  expect(policy.refusal('alice', [docs('')])).toBe('"alice" (roles: app) may not read every document');
  expect(policy.refusal('alice', [docs('ap')])).toBe('"alice" (roles: app) may not read documents with prefix "ap"');
  expect(policy.refusal('alice', [kv('read', 'n')])).toBe('"alice" (roles: app) may not read kv key "n"');
  expect(policy.refusal('alice', [kv('write', 'm', 'q')])).toBe('"alice" (roles: app) may not write kv keys in ["m", "q")');
  expect(policy.refusal('alice', [kv('write', 'config/flags')])).toContain('may not write kv key "config/flags"');
  expect(policy.refusal('alice', [{ resource: 'admin', access: 'read' }])).toBe('"alice" (roles: app) may not read admin calls');
  // The first need refused is named, whatever came before it.
  expect(policy.refusal('bob', [doc('read', 'x'), doc('write', 'x')])).toBe('"bob" (roles: reader) may not write document "x"');
  expect(policy.refusal('bob', [kv('read', '', '\u0000')])).toBeUndefined();
  expect(policy.refusal('bob', [{ resource: 'kv', access: 'write' }])).toBe('"bob" (roles: reader) may not write any kv key (a lease belongs to no key)');
  // Roles add up.
  expect(policy.refusal('ops', [{ resource: 'admin', access: 'write' }, kv('read', 'x')])).toBeUndefined();
  expect(policy.refusal('eve', [doc('read', 'x')])).toBe('"eve" (roles: none) may not read document "x"');
  expect(policy.refusal('eve', [])).toBeUndefined();
  // Unknown callers are refused everything, nameless ones with the reason.
  expect(policy.refusal('mallory', [])).toBe('"mallory" is not a user of the access policy');
  expect(policy.refusal('', [doc('read', 'x')])).toMatch(/certificate has no common name/);
  // A method without a rule: an admin need nobody holds.
  expect(policy.refusal('ops', [{ resource: 'admin', access: 'write', range: { key: '/x.Y/Z', rangeEnd: '' } }])).toBe('"ops" (roles: operator, reader) may not write /x.Y/Z, a method with no access rule');
});

test('what a user holds, as the policy states it', () => {
  expect(policy.rolesOf('alice')).toEqual(['app']);
  expect(policy.rolesOf('mallory')).toBeUndefined();
  expect(policy.grantsOf('alice').map((g) => g.text)).toEqual([
    'documents prefix "app/" readwrite', 'documents id "shared/board" read', 'kv prefix "app/" readwrite', 'kv key "config/flags" read', 'kv range ["m", "p") write',
  ]);
  expect(policy.grantsOf('ops').map((g) => g.text)).toEqual(['admin readwrite', 'documents prefix "" read', 'kv prefix "" read']);
  expect(policy.userCount).toBe(4);
  expect(policy.roles.size).toBe(4);
});

test('every mistake in a policy is an error naming the file and the field', () => {
  const bad = (p: unknown): (() => AccessPolicy) => () => AccessPolicy.parse(typeof p === 'string' ? p : JSON.stringify(p), 'p.json');
  expect(bad('{"roles": ')).toThrow(/^p\.json: not JSON: /);
  expect(bad([])).toThrow('p.json: the policy must be an object');
  expect(bad({ role: {} })).toThrow('p.json: the policy has an unknown field "role" (allowed: roles, users)');
  expect(bad({ roles: { a: { document: [] } } })).toThrow('p.json: roles.a has an unknown field "document" (allowed: documents, kv, admin)');
  expect(bad({ roles: { a: { kv: {} } } })).toThrow('p.json: roles.a.kv must be a list of permissions');
  expect(bad({ roles: { a: { kv: [{ prefix: 'x', access: 'rw' }] } } })).toThrow('p.json: roles.a.kv[0].access must be "read", "write" or "readwrite", not "rw"');
  expect(bad({ roles: { a: { kv: [{ prefix: 'x' }] } } })).toThrow('roles.a.kv[0].access must be "read", "write" or "readwrite", not undefined');
  expect(bad({ roles: { a: { kv: [{ access: 'read' }] } } })).toThrow('p.json: roles.a.kv[0] needs exactly one of "prefix" and "key"');
  expect(bad({ roles: { a: { kv: [{ prefix: 'x', key: 'y', access: 'read' }] } } })).toThrow('needs exactly one of "prefix" and "key"');
  expect(bad({ roles: { a: { kv: [{ prefix: 'x', rangeEnd: 'y', access: 'read' }] } } })).toThrow('roles.a.kv[0] has "rangeEnd" with "prefix"');
  expect(bad({ roles: { a: { kv: [{ key: 'b', rangeEnd: 'a', access: 'read' }] } } })).toThrow('roles.a.kv[0].rangeEnd must be after key');
  expect(bad({ roles: { a: { kv: [{ key: '', access: 'read' }] } } })).toThrow('roles.a.kv[0].key must not be empty');
  expect(bad({ roles: { a: { kv: [{ key: 3, access: 'read' }] } } })).toThrow('roles.a.kv[0].key must be a string');
  expect(bad({ roles: { a: { documents: [{ key: 'x', access: 'read' }] } } })).toThrow('roles.a.documents[0] has an unknown field "key" (allowed: prefix, id, access)');
  expect(bad({ roles: { a: { documents: [{ id: 'x', rangeEnd: 'y', access: 'read' }] } } })).toThrow('has an unknown field "rangeEnd"');
  expect(bad({ roles: { a: { admin: 'all' } } })).toThrow('roles.a.admin must be "read", "write" or "readwrite", not "all"');
  expect(bad({ users: { u: { roles: ['ghost'] } } })).toThrow('p.json: users."u".roles names the role "ghost", which roles does not define');
  expect(bad({ users: { u: { roles: 'app' } } })).toThrow('users."u".roles must be a list of role names');
  expect(bad({ users: { u: { role: ['app'] } } })).toThrow('users."u" has an unknown field "role" (allowed: roles)');
  expect(bad({ roles: { a: { kv: [{ prefix: 'x\ud800', access: 'read' }] } } })).toThrow(/roles\.a\.kv\[0\]\.prefix no prefix range/);
  // Names of what every object inherits are no access words (a policy with one would fail every check).
  expect(bad({ roles: { a: { kv: [{ prefix: 'x', access: 'constructor' }] } } })).toThrow('roles.a.kv[0].access must be "read", "write" or "readwrite", not "constructor"');
  expect(bad({ roles: { a: { admin: '__proto__' } } })).toThrow('roles.a.admin must be');
  // The nameless are nobody: no policy may make them somebody.
  expect(bad({ roles: {}, users: { '': { roles: [] } } })).toThrow('p.json: users names the user "" (a certificate without a common name is nobody)');
  // An empty policy is valid: nobody may do anything.
  expect(AccessPolicy.parse('{}', 'p.json').refusal('x', [])).toBe('"x" is not a user of the access policy');
});

test('needs in words', () => {
  expect(describeNeed(kv('read', 'a', '\u0000'))).toBe('kv keys from "a" on');
  expect(describeNeed(kv('read', '', '\u0000'))).toBe('every kv key');
  expect(describeNeed(kv('read', 'b', 'a'))).toBe('kv key "b"');
  expect(describeNeed(docs('x/'))).toBe('documents with prefix "x/"');
});
