import { execFileSync, spawnSync } from 'node:child_process';

export interface ReferenceAvailability {
  readonly etcd: boolean;
  readonly redis: boolean;
  /** What was installed or why a reference is missing, for the report. */
  readonly notes: string[];
}

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/**
 * Makes the reference servers available: present already, or installed from Debian when this
 * runs as root (the CI machine is root), or reported missing so their rows say "skipped".
 */
export function ensureReferences(wanted: boolean, log: (line: string) => void): ReferenceAvailability {
  if (!wanted) return { etcd: false, redis: false, notes: ['references skipped (--no-references)'] };
  const notes: string[] = [];
  const missing = [
    ...(has('etcd') ? [] : ['etcd-server', 'etcd-client']),
    ...(has('redis-server') ? [] : ['redis-server', 'redis-tools']),
  ];
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      notes.push(`not root: cannot install ${missing.join(' ')}; those references are skipped`);
    } else {
      log(`installing ${missing.join(' ')} (apt-get)...`);
      try {
        const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
        execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: 300_000 });
        execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { env, stdio: 'ignore', timeout: 600_000 });
        notes.push(`installed ${missing.join(' ')}`);
      } catch (err) {
        notes.push(`apt-get install ${missing.join(' ')} failed (${(err as Error).message.split('\n')[0]}); skipped`);
      }
    }
  }
  const etcd = has('etcd');
  const redis = has('redis-server');
  if (!etcd) notes.push('etcd not available: etcd rows are skipped');
  if (!redis) notes.push('redis-server not available: Redis rows are skipped');
  return { etcd, redis, notes };
}
