// How the CLI shows a node's access policy (concord status) and the caller's view of it
// (concord whoami).
import { authorizationLines } from '../../clients/cli/formatStatusTable';
import { formatWhoAmI } from '../../clients/cli/whoAmICommand';

test('status: the policy in force, and a refused edit loud', () => {
  expect(authorizationLines(undefined)).toEqual([]);
  const base = { policyFile: '/etc/concord/policy.json', users: 3, roles: 2, loadedAtMs: BigInt(Date.parse('2026-01-02T03:04:05Z')), lastError: '' };
  expect(authorizationLines(base)).toEqual(['  access policy: /etc/concord/policy.json  3 users, 2 roles  loaded 2026-01-02T03:04:05.000Z']);
  expect(authorizationLines({ ...base, lastError: 'p.json: not JSON: x' })[1]).toBe('  access policy CHANGE REFUSED (the loaded one stays in force): p.json: not JSON: x');
});

test('whoami: the user, its roles and permissions; an unknown user and a node without a policy say so', () => {
  const me = { authorization: true, user: 'alice', known: true, roles: ['app'], permissions: ['kv prefix "app/" readwrite'], forwardedBy: '' };
  expect(formatWhoAmI(me)).toEqual(['user: alice', 'roles: app', 'permissions:', '  kv prefix "app/" readwrite']);
  expect(formatWhoAmI({ ...me, roles: [], permissions: [] })).toEqual(['user: alice', 'roles: none', 'permissions: none']);
  expect(formatWhoAmI({ ...me, known: false, roles: [], permissions: [] })[1]).toBe('not a user of the node\'s access policy: every call but status and whoami is refused');
  expect(formatWhoAmI({ ...me, authorization: false, user: '' })).toEqual(['user: (no client certificate name)', 'this node checks no access policy: every caller may do everything']);
});
