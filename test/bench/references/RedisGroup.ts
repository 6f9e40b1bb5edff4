import Redis from 'ioredis';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeLoopbackPorts } from '../../../clients/cli/freeLoopbackPorts';
import { ServerProcess, waitUntil } from './ServerProcess';

export interface RedisGroup {
  /** [primary, replica1, replica2] */
  readonly ports: number[];
  readonly version: string;
  /** A new connection (one per closed-loop client, as redis-benchmark opens them). */
  connect(index: number): Redis;
  rssBytes(index: number): number;
  /** Process ids: primary, then replicas. */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * A Redis primary with two replicas on loopback. Every server appends to its AOF with
 * `appendfsync always` (the durability closest to Concord's fsync-before-ack) and RDB saving
 * off. Replicas publish keyspace events, which is how the harness sees when a write arrived.
 */
export async function startRedisGroup(replicas: number, rss: (pid: number) => number): Promise<RedisGroup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-bench-redis-'));
  const ports = await freeLoopbackPorts(1 + replicas);
  const procs = ports.map((port, i) => {
    const data = path.join(dir, `r${i}`);
    fs.mkdirSync(data);
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'always', '--notify-keyspace-events', 'K$', '--daemonize', 'no', '--protected-mode', 'no',
    ];
    if (i > 0) args.push('--replicaof', '127.0.0.1', String(ports[0]));
    return new ServerProcess(`redis${i}`, 'redis-server', args, path.join(dir, `r${i}.log`));
  });
  const open: Redis[] = [];
  const connect = (i: number): Redis => {
    const r = new Redis({ host: '127.0.0.1', port: ports[i], lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true });
    r.on('error', () => undefined);
    open.push(r);
    return r;
  };
  const stop = async (): Promise<void> => {
    open.forEach((r) => r.disconnect());
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const admin = connect(0);
    let version = '';
    await waitUntil(`redis primary with ${replicas} online replicas`, async () => {
      const info = await admin.info();
      version = /redis_version:(\S+)/.exec(info)?.[1] ?? '';
      return (info.match(/state=online/g) ?? []).length >= replicas;
    }, 30_000);
    return { ports, version, connect, rssBytes: (i) => rss(procs[i]?.pid ?? 0), pids: () => procs.map((p) => p.pid), stop };
  } catch (err) {
    const tails = procs.map((p) => `--- ${p.name} (${p.exit ?? 'running'}) ---\n${p.tail()}`).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
}
