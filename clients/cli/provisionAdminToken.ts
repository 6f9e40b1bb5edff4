import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminTokenFileName, readTokenFile } from './resolveAdminToken';

// The admin token `concord up` gives its nodes. An explicit token (--admin-token, else
// $CONCORD_ADMIN_TOKEN) wins and is not written to disk: whoever chose it already holds it.
// Otherwise the token lives in <dataDir>/admin-token, created at first start and reused after,
// so restarting the cluster does not invalidate the token scripts and other terminals read.

export interface ProvisionedAdminToken {
  token: string;
  source: 'flag' | 'env' | 'file' | 'generated';
  /** <dataDir>/admin-token, where the CLI finds the token when it is not given explicitly. */
  file: string;
}

export function provisionAdminToken(dataDir: string, flag: string | undefined, env: NodeJS.ProcessEnv): ProvisionedAdminToken {
  const file = join(dataDir, adminTokenFileName);
  if (flag !== undefined && flag !== '') return { token: flag, source: 'flag', file };
  if (env.CONCORD_ADMIN_TOKEN !== undefined && env.CONCORD_ADMIN_TOKEN !== '') return { token: env.CONCORD_ADMIN_TOKEN, source: 'env', file };
  const existing = readTokenFile(file);
  if (existing !== undefined) {
    // A credential readable by other users is not one; tighten a file loosened by hand or a copy.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { token: existing, source: 'file', file };
  }
  const token = randomBytes(16).toString('hex');
  mkdirSync(dataDir, { recursive: true });
  try {
    // 'wx': never overwrite a token another `concord up` on the same dir wrote in the meantime.
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const written = (error as NodeJS.ErrnoException).code === 'EEXIST' ? readTokenFile(file) : undefined;
    if (written === undefined) throw error;
    return { token: written, source: 'file', file };
  }
  return { token, source: 'generated', file };
}
