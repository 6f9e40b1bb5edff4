import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeLoopbackPorts } from '../../../clients/cli/freeLoopbackPorts';
import { etcdStubs, EtcdStubs } from './etcdStubs';
import { ServerProcess, waitUntil } from './ServerProcess';

export interface EtcdCluster {
  readonly members: { name: string; clientAddress: string; pid: number }[];
  readonly stubs: EtcdStubs[];
  readonly version: string;
  /** Index of the current leader. */
  leader(): Promise<number>;
  rssBytes(index: number): number;
  stop(): Promise<void>;
}

/**
 * A 3-member etcd on loopback with temp data dirs, configured as shipped (fsync on every
 * commit, default snapshot count and heartbeats): the reference for the authoritative path.
 */
export async function startEtcdCluster(members = 3, rss: (pid: number) => number): Promise<EtcdCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-bench-etcd-'));
  const ports = await freeLoopbackPorts(members * 2);
  const names = Array.from({ length: members }, (_, i) => `e${i + 1}`);
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const procs = names.map((name, i) => {
    const client = `http://127.0.0.1:${ports[2 * i]}`;
    return new ServerProcess(name, 'etcd', [
      '--name', name, '--data-dir', path.join(dir, name),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'concord-bench',
      '--logger', 'zap', '--log-level', 'warn',
    ], path.join(dir, `${name}.log`));
  });
  const stubs = ports.filter((_, i) => i % 2 === 0).map((p) => etcdStubs(`127.0.0.1:${p}`));
  const stop = async (): Promise<void> => {
    stubs.forEach((s) => s.close());
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    let version = '';
    await waitUntil('etcd members to serve with a leader', async () => {
      const all = await Promise.all(stubs.map((s) => s.status({}, 1000)));
      version = all[0]?.version ?? '';
      return all.every((st) => st.leader !== '0');
    }, 30_000);
    const leader = async (): Promise<number> => {
      const st = await (stubs[0] as EtcdStubs).status({});
      const ids = await Promise.all(stubs.map(async (s) => (await s.status({})).header.memberId));
      return ids.indexOf(st.leader);
    };
    return {
      members: procs.map((p, i) => ({ name: p.name, clientAddress: `127.0.0.1:${ports[2 * i]}`, pid: p.pid })),
      stubs,
      version,
      leader,
      rssBytes: (i) => rss(procs[i]?.pid ?? 0),
      stop,
    };
  } catch (err) {
    const tails = procs.map((p) => `--- ${p.name} (${p.exit ?? 'running'}) ---\n${p.tail()}`).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
}
