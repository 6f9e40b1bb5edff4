import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { resolve } from 'node:path';

export interface MachineFacts {
  readonly host: string;
  readonly os: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly loadAverage: number[];
  readonly node: string;
  readonly commit: string;
  /** True when the work tree had uncommitted changes (the numbers are not of `commit` alone). */
  readonly dirty: boolean;
  readonly packages: Record<string, string>;
}

const repo = resolve(__dirname, '..', '..');

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function installedVersion(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(resolve(repo, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

/** What a reader needs to compare two result files: machine, runtime, commit, library versions. */
export function machineFacts(): MachineFacts {
  return {
    host: os.hostname(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    commit: git(['rev-parse', 'HEAD']) || 'unknown',
    dirty: git(['status', '--porcelain']) !== '',
    packages: Object.fromEntries(['@grpc/grpc-js', 'yjs', 'lmdb', 'ioredis'].map((p) => [p, installedVersion(p)])),
  };
}
