import { status } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serviceError } from '../client/serviceError';

// Where the admin credential of fault-injection commands (partition, heal, delay) comes from:
// --admin-token, else $CONCORD_ADMIN_TOKEN, else the file `concord up` writes into its default
// data dir, relative to the current directory (so `npm start` + `npx concord partition` in the
// repo just work). The source travels with the token so a rejection can say which one was wrong.

/** `concord up`'s default data dir (what `npm start` uses), relative to the current directory. */
export const defaultDataDir = '.concord/data';
/** The file in a data dir that holds the cluster's admin token. */
export const adminTokenFileName = 'admin-token';

export interface AdminToken {
  token: string;
  /** Human description of where the token came from, for error messages. */
  source: string;
}

export function resolveAdminToken(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): AdminToken {
  if (flag !== undefined && flag !== '') return { token: flag, source: '--admin-token' };
  const fromEnv = env.CONCORD_ADMIN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return { token: fromEnv, source: '$CONCORD_ADMIN_TOKEN' };
  const file = join(defaultDataDir, adminTokenFileName);
  const token = readTokenFile(resolve(cwd, file));
  if (token !== undefined) return { token, source: file };
  throw serviceError(
    status.UNAUTHENTICATED,
    `no admin token: pass --admin-token <token> or set CONCORD_ADMIN_TOKEN; without them the token is read from ${file} ` +
      `(written by \`concord up\` / \`npm start\`; run from that directory, or for \`concord up --data-dir D\` use D/${adminTokenFileName})`,
  );
}

/** The token in `path`, or undefined when the file does not exist. An empty file is an error. */
export function readTokenFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the admin token file ${path}: ${(error as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new Error(`the admin token file ${path} is empty (delete it and \`concord up\` writes a new one)`);
  return token;
}
