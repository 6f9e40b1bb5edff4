import type { ChannelCredentials } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchCluster, LocalCluster } from '../../../clients/cli/launchCluster';
import { KvStubs, kvStubs } from '../../integration/kvStubs';
import { eventually, NodeStubs, nodeStubs } from '../../integration/nodeStubs';

export interface ConcordBenchCluster {
  readonly cluster: LocalCluster;
  readonly docs: NodeStubs[];
  readonly kv: KvStubs[];
  readonly adminToken: string;
  /** Index of the authoritative leader (waits for one). */
  leader(): Promise<number>;
  rssBytes(index: number): number;
  /** The node processes' ids (for their CPU time). */
  pids(): number[];
  stop(): Promise<void>;
}

export interface ConcordBenchOptions {
  readonly nodes: number;
  /** Folder for node CPU profiles (written when each node exits), or undefined. */
  readonly cpuProfileDir?: string;
  readonly log: (line: string) => void;
  /** Extra node environment over this process's; an undefined value removes the variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Extra node flags (e.g. --tls-*). */
  readonly extraArgs?: readonly string[];
  /** How the bench's stubs dial the nodes (default insecure). */
  readonly credentials?: ChannelCredentials;
}

/**
 * Real node processes on free loopback ports with data in a fresh temp dir, as the product
 * runs them (launchCluster), with a random admin token so the heal scenario can cut links.
 * Default timers: a benchmark measures the product as configured, not a test's fast settings.
 */
export async function startConcordBench(opts: ConcordBenchOptions): Promise<ConcordBenchCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-bench-'));
  const adminToken = randomBytes(16).toString('hex');
  let cluster: LocalCluster;
  try {
    cluster = await launchCluster({
      nodes: opts.nodes,
      basePort: 0,
      dataDir: dir,
      stopGraceMs: 20_000,
      extraArgs: opts.extraArgs,
      readyTimeoutMs: 120_000,
      // Profiling swaps in a wrapper entry (Node 20 refuses --cpu-prof in NODE_OPTIONS).
      ...(opts.cpuProfileDir === undefined ? {} : { entry: 'test/bench/concord/profiledNode.ts' }),
      env: nodeEnv({ ...process.env, CONCORD_ADMIN_TOKEN: adminToken, CONCORD_BENCH_CPU_PROF_DIR: opts.cpuProfileDir ?? '', ...opts.env }),
      onOutput: (id, stream, line) => {
        if (stream === 'stderr' && /error|fail/i.test(line)) opts.log(`concord ${id}: ${line}`);
      },
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const docs = cluster.nodes.map((n) => nodeStubs(n.address, opts.credentials));
  const kv = cluster.nodes.map((n) => kvStubs(n.address, opts.credentials));
  return {
    cluster,
    docs,
    kv,
    adminToken,
    leader: async () => {
      let leader = -1;
      await eventually('an authoritative leader', async () => {
        const st = await docs[0]?.status();
        leader = cluster.nodes.findIndex((n) => n.id === st?.authority?.leaderId);
        return leader >= 0;
      }, 30_000);
      return leader;
    },
    rssBytes: (index) => rssBytes(cluster.nodes[index]?.pid ?? 0),
    pids: () => cluster.nodes.map((n) => n.pid),
    stop: async () => {
      docs.forEach((s) => s.close());
      kv.forEach((s) => s.close());
      await cluster.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The environment without the variables set to undefined (so an override can remove one). */
function nodeEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

/** Resident set size of a process from /proc (0 when it is gone or /proc is missing). */
export function rssBytes(pid: number): number {
  if (pid <= 0) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}
