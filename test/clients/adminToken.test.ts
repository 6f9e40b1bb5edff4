// Proves where the admin token comes from. `concord up`: --admin-token, else $CONCORD_ADMIN_TOKEN,
// else <dataDir>/admin-token, created at first start (random, mode 0600) and reused after. The
// CLI: the flag, else the environment, else .concord/data/admin-token under the current
// directory, else UNAUTHENTICATED explaining all three.
import { status } from '@grpc/grpc-js';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provisionAdminToken } from '../../clients/cli/provisionAdminToken';
import { resolveAdminToken } from '../../clients/cli/resolveAdminToken';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'concord-token-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('up generates a token into <dataDir>/admin-token with mode 0600, then reuses it', () => {
  const dataDir = join(dir, 'data');
  const first = provisionAdminToken(dataDir, undefined, {});
  expect(first).toMatchObject({ source: 'generated', file: join(dataDir, 'admin-token') });
  expect(first.token).toMatch(/^[0-9a-f]{32}$/);
  expect(readFileSync(first.file, 'utf8').trim()).toBe(first.token);
  expect(statSync(first.file).mode & 0o777).toBe(0o600);
  expect(provisionAdminToken(dataDir, undefined, {})).toEqual({ ...first, source: 'file' });
  // A file loosened by hand is tightened when reused.
  chmodSync(first.file, 0o644);
  provisionAdminToken(dataDir, undefined, {});
  expect(statSync(first.file).mode & 0o777).toBe(0o600);
});

test('up: the flag wins over the environment, which wins over the file; neither is written', () => {
  const dataDir = join(dir, 'data');
  const generated = provisionAdminToken(dataDir, undefined, {}).token;
  expect(provisionAdminToken(dataDir, 'flag-token', { CONCORD_ADMIN_TOKEN: 'env-token' })).toMatchObject({ token: 'flag-token', source: 'flag' });
  expect(provisionAdminToken(dataDir, undefined, { CONCORD_ADMIN_TOKEN: 'env-token' })).toMatchObject({ token: 'env-token', source: 'env' });
  expect(readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()).toBe(generated);
  expect(provisionAdminToken(join(dir, 'fresh'), '', { CONCORD_ADMIN_TOKEN: '' }).source).toBe('generated');
});

test('the CLI takes the flag, else the environment, else .concord/data/admin-token under cwd', () => {
  const env = { CONCORD_ADMIN_TOKEN: 'env-token' };
  expect(resolveAdminToken('flag-token', env, dir)).toEqual({ token: 'flag-token', source: '--admin-token' });
  expect(resolveAdminToken(undefined, env, dir)).toEqual({ token: 'env-token', source: '$CONCORD_ADMIN_TOKEN' });
  mkdirSync(join(dir, '.concord', 'data'), { recursive: true });
  writeFileSync(join(dir, '.concord', 'data', 'admin-token'), 'file-token\n');
  expect(resolveAdminToken(undefined, {}, dir)).toEqual({ token: 'file-token', source: '.concord/data/admin-token' });
  // What `concord up` wrote is what the CLI reads.
  const provisioned = provisionAdminToken(join(dir, 'other', '.concord', 'data'), undefined, {});
  expect(resolveAdminToken(undefined, {}, join(dir, 'other')).token).toBe(provisioned.token);
});

test('the CLI without any token fails UNAUTHENTICATED, saying where a token comes from', () => {
  let thrown: unknown;
  try {
    resolveAdminToken(undefined, { CONCORD_ADMIN_TOKEN: '' }, dir);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: status.UNAUTHENTICATED });
  const details = (thrown as { details: string }).details;
  for (const hint of ['--admin-token', 'CONCORD_ADMIN_TOKEN', '.concord/data/admin-token', 'concord up']) expect(details).toContain(hint);
  mkdirSync(join(dir, '.concord', 'data'), { recursive: true });
  writeFileSync(join(dir, '.concord', 'data', 'admin-token'), '\n');
  expect(() => resolveAdminToken(undefined, {}, dir)).toThrow(/is empty/);
});
