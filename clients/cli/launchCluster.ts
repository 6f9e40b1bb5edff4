import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { freeLoopbackPorts } from './freeLoopbackPorts';
import { nodeV8Flags } from '../../services/node/nodeV8Flags';
import { NodeProcess, type ExitInfo } from './NodeProcess';

// Starts N nodes on loopback as child processes (masters by default; `roles` makes some of them
// witnesses), each with its own data dir and every other node as a peer, and waits until all
// of them are serving. Used by `concord up` and by integration tests, so it never leaves a
// process behind: a failed start stops the nodes that did start, and a launcher that exits
// kills whatever is still running.

export type LaunchRole = 'master' | 'witness';

export interface LaunchClusterOptions {
  nodes: number;
  /**
   * One role per node (length `nodes`). Masters are named n1, n2..., witnesses w1, w2... (a
   * witness votes on authoritative operations but holds no documents). Default: all masters.
   */
  roles?: readonly LaunchRole[];
  /** First port (n1 gets it, n2 the next...); 0 picks free loopback ports. Default 7001. */
  basePort?: number;
  /** Parent of the per-node data dirs (`<dataDir>/n1`...), relative to the current directory. */
  dataDir: string;
  /** Appended to every node's arguments. */
  extraArgs?: readonly string[];
  clusterId?: string;
  /** Node entry script, relative to the repo root (default services/node/main.ts). */
  entry?: string;
  env?: NodeJS.ProcessEnv;
  /** Per node start-up bound (default 30 s: three cold tsx starts on two cores take a while). */
  readyTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace on stop (default 10 s). */
  stopGraceMs?: number;
  /** Aborting while the nodes start stops them and rejects (for Ctrl-C during start-up). */
  signal?: AbortSignal;
  onOutput?: (id: string, stream: 'stdout' | 'stderr', line: string) => void;
  /** Every exit of a node after it was ready; `expected` is false for crashes and outside kills. */
  onExit?: (id: string, info: ExitInfo) => void;
}

export interface ClusterNode {
  id: string;
  role: LaunchRole;
  address: string;
  /** PID of the current process (changes on restart); 0 while the node is not running. */
  pid: number;
  dataDir: string;
}

export interface LocalCluster {
  nodes: ClusterNode[];
  /** SIGTERM every node, SIGKILL after the grace period; resolves when all have exited. */
  stop(): Promise<void>;
  /** Signals one node (default SIGKILL); resolves when it has exited (SIGSTOP/SIGCONT at once). */
  kill(id: string, signal?: NodeJS.Signals): Promise<void>;
  /** Stops the node if it is running, starts it again with the same arguments, waits until ready. */
  restart(id: string): Promise<void>;
}

const repoRoot = resolve(__dirname, '..', '..');

/** Tries of a launch on free ports (basePort 0): another process may take a port between its pick and the node's bind. */
const freePortTries = 3;

export async function launchCluster(options: LaunchClusterOptions): Promise<LocalCluster> {
  if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new RangeError('nodes must be a positive integer');
  const basePort = options.basePort ?? 7001;
  if (basePort !== 0) return launchOn(options, Array.from({ length: options.nodes }, (_, i) => basePort + i));
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOn(options, await freeLoopbackPorts(options.nodes));
    } catch (err) {
      // Picked free, taken before the node bound it (a parallel test's process): new ports.
      if (attempt >= freePortTries || options.signal?.aborted || !/EADDRINUSE/.test(err instanceof Error ? err.message : String(err))) throw err;
    }
  }
}

async function launchOn(options: LaunchClusterOptions, ports: readonly number[]): Promise<LocalCluster> {
  const roles = options.roles ?? Array.from({ length: options.nodes }, (): LaunchRole => 'master');
  if (roles.length !== options.nodes) throw new RangeError(`roles has ${roles.length} entries for ${options.nodes} nodes`);
  const ids = nodeIds(roles);
  const nodes: ClusterNode[] = ports.map((port, i) => ({
    id: ids[i]!,
    role: roles[i]!,
    address: `127.0.0.1:${port}`,
    pid: 0,
    dataDir: resolve(options.dataDir, ids[i]!),
  }));
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  const processes = new Map<string, NodeProcess>();
  /** A launch that failed stops its nodes quietly: the caller hears of it as the launch's error. */
  let failedLaunch = false;
  for (const node of nodes) {
    mkdirSync(node.dataDir, { recursive: true });
    // With explicit roles every peer says its role (a node must know which peers hold documents).
    const peerSpec = (other: ClusterNode): string => `${other.id}=${other.address}${options.roles ? `/${other.role}` : ''}`;
    const peers = nodes.filter((other) => other !== node).map(peerSpec);
    const args = ['--id', node.id, '--listen', node.address, '--data-dir', node.dataDir, '--role', node.role];
    args.push('--cluster-id', options.clusterId ?? 'local');
    if (peers.length > 0) args.push('--peers', peers.join(','));
    args.push(...(options.extraArgs ?? []));
    const spec = {
      id: node.id,
      entry: resolve(repoRoot, options.entry ?? 'services/node/main.ts'),
      nodeFlags: nodeV8Flags,
      args,
      cwd: repoRoot,
      env: options.env ?? process.env,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      onOutput: options.onOutput && ((stream: 'stdout' | 'stderr', line: string) => options.onOutput?.(node.id, stream, line)),
    };
    processes.set(node.id, new NodeProcess(spec, (info) => {
      node.pid = 0;
      if (!failedLaunch) options.onExit?.(node.id, info);
    }));
  }
  // The safety net for a launcher that exits without stop(): no node outlives it.
  const killAll = (): void => processes.forEach((p) => p.killNow());
  process.on('exit', killAll);
  const stop = async (): Promise<void> => {
    await Promise.all([...processes.values()].map((p) => p.stop(stopGraceMs)));
    process.off('exit', killAll);
  };
  const startOne = async (node: ClusterNode): Promise<void> => {
    const child = processOf(node.id);
    const started = child.start();
    node.pid = child.pid ?? 0;
    await started;
  };
  const processOf = (id: string): NodeProcess => {
    const found = processes.get(id);
    if (found === undefined) throw new RangeError(`no node ${id} in this cluster`);
    return found;
  };

  const abort = (): void => void stop();
  options.signal?.addEventListener('abort', abort, { once: true });
  const starts = await Promise.allSettled(nodes.map(startOne));
  options.signal?.removeEventListener('abort', abort);
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed || options.signal?.aborted) {
    failedLaunch = true;
    await stop();
    throw options.signal?.aborted ? options.signal.reason : failed?.reason;
  }
  return {
    nodes,
    stop,
    kill: (id, signal = 'SIGKILL') => processOf(id).kill(signal),
    restart: async (id) => {
      const node = nodes.find((n) => n.id === id);
      if (node === undefined) throw new RangeError(`no node ${id} in this cluster`);
      await processOf(id).stop(stopGraceMs);
      await startOne(node);
    },
  };
}

/** n1, n2... for masters and w1, w2... for witnesses, each counted in its own sequence. */
export function nodeIds(roles: readonly LaunchRole[]): string[] {
  const counts = { master: 0, witness: 0 };
  return roles.map((role) => `${role === 'master' ? 'n' : 'w'}${++counts[role]}`);
}
