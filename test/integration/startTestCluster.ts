import type { ChannelCredentials } from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchCluster, LocalCluster } from '../../clients/cli/launchCluster';
import { eventually, NodeStubs, nodeStubs } from './nodeStubs';

export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly stubs: NodeStubs[];
  readonly dir: string;
  /** Node stderr lines, printed when a test fails to explain it. */
  readonly logs: string[];
  stop(): Promise<void>;
}

export const testAdminToken = 'test-admin-token';

/**
 * Three (or n) real node processes on free loopback ports with data in a fresh temp dir,
 * returned once the cluster is whole: every replication link up and one Raft leader agreed on
 * by all (so tests do not race the first election). `env` is merged over the test's
 * environment; an undefined value removes the variable.
 */
export async function startTestCluster(
  n = 3,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  ready: 'whole' | 'leader' = 'whole',
  /** How the test's stubs dial the nodes (default insecure). */
  credentials?: ChannelCredentials,
): Promise<TestCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-it-'));
  const logs: string[] = [];
  let cluster: LocalCluster;
  try {
    cluster = await launchCluster({
      nodes: n,
      basePort: 0,
      dataDir: dir,
      extraArgs: ['--anti-entropy-interval-ms', '500', '--heartbeat-interval-ms', '200', ...extraArgs],
      stopGraceMs: 5000,
      env: { ...process.env, CONCORD_ADMIN_TOKEN: testAdminToken, ...env },
      onOutput: (id, stream, line) => {
        if (stream === 'stderr') logs.push(`${id}: ${line}`);
      },
    });
  } catch (err) {
    // launchCluster stops the nodes it started when one fails; the data dir is ours to remove.
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stubs = cluster.nodes.map((node) => nodeStubs(node.address, credentials));
  const stop = async (): Promise<void> => {
    stubs.forEach((s) => s.close());
    try {
      await cluster.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await eventually(ready === 'whole' ? 'cluster whole (links up, one leader)' : 'a leader', async () => {
      const all = await Promise.all(stubs.map((s) => s.status()));
      const leader = all[0]?.authority?.leaderId ?? '';
      return leader !== '' && all.every((st) => st.authority?.leaderId === leader && (ready === 'leader' || st.peers.every((p) => p.reachable)));
    }, 30_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${logs.slice(-30).join('\n')}`);
  }
  return {
    cluster,
    stubs,
    dir,
    logs,
    stop,
  };
}
