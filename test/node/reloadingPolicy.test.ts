import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReloadingPolicy, readAccessPolicy } from '../../services/node/ReloadingPolicy';

// A node's access policy file, reloaded when it changes: a good change takes effect, a bad one is
// reported once and the previous policy stays in force, and what is in force says so.

let dir: string;
let file: string;
const write = (roles: string[]): void => fs.writeFileSync(file, JSON.stringify({ roles: { app: { kv: [{ prefix: 'app/', access: 'read' }] } }, users: { alice: { roles } } }));
const read = { resource: 'kv', access: 'read', range: { key: 'app/x', rangeEnd: '' } } as const;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-policy-'));
  file = path.join(dir, 'policy.json');
  write([]);
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a changed file takes effect at the next poll; a bad one is reported once and the last good one stays', () => {
  const logs: string[] = [];
  let now = 1000;
  const p = new ReloadingPolicy(file, (m) => logs.push(m), () => now);
  expect(p.current.refusal('alice', [read])).toMatch(/may not read/);
  expect([p.poll(), p.loadedAtMs, p.lastError]).toEqual([false, 1000, '']);
  now = 2000;
  write(['app']);
  expect(p.poll()).toBe(true);
  expect(p.current.refusal('alice', [read])).toBeUndefined();
  expect(p.loadedAtMs).toBe(2000);
  expect(logs).toEqual([`access policy reloaded from ${file}: 1 users, 1 roles`]);
  // Half-written, then a role nobody defined: refused, once each, the policy in force unchanged.
  fs.writeFileSync(file, '{"roles": {');
  expect([p.poll(), p.poll()]).toEqual([false, false]);
  expect(p.lastError).toMatch(/not JSON/);
  write(['ghost']);
  expect(p.poll()).toBe(false);
  expect(p.lastError).toContain('names the role "ghost", which roles does not define');
  expect(logs.filter((l) => l.includes('was not reloaded'))).toHaveLength(2);
  expect(p.current.refusal('alice', [read])).toBeUndefined();
  // A vanished file is refused like a bad one; a good file again takes effect.
  fs.rmSync(file);
  expect(p.poll()).toBe(false);
  expect(p.lastError).toMatch(/ENOENT/);
  write([]);
  expect(p.poll()).toBe(true);
  expect(p.lastError).toBe('');
  expect(p.current.refusal('alice', [read])).toMatch(/may not read/);
});

test('a bad file at start is an error naming it', () => {
  fs.writeFileSync(file, '[]');
  expect(() => new ReloadingPolicy(file, () => undefined)).toThrow(`${file}: the policy must be an object`);
  expect(() => readAccessPolicy(path.join(dir, 'missing.json'))).toThrow(`cannot read the access policy ${path.join(dir, 'missing.json')}`);
});
