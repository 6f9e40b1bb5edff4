// Proves that launchCluster starts nodes with the process contract's arguments (roles too: 2
// masters + a witness) and the node's V8 flags, and waits for their ready lines, reports a node
// that fails or hangs before ready with its stderr, tells expected exits from unexpected ones,
// restarts a node, and never leaves a process behind.
// It runs test/clients/fixtures/fakeNodeMain.ts, not the real node.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { launchCluster, type LaunchClusterOptions, type LocalCluster } from '../../clients/cli/launchCluster';
import type { ExitInfo } from '../../clients/cli/NodeProcess';
import { nodeV8Flags } from '../../services/node/nodeV8Flags';

const entry = 'test/clients/fixtures/fakeNodeMain.ts';
let dataDir: string;
let cluster: LocalCluster | undefined;
let client: ConcordClient | undefined;

function launch(options: Partial<LaunchClusterOptions> = {}): Promise<LocalCluster> {
  return launchCluster({ nodes: 3, basePort: 0, dataDir, entry, stopGraceMs: 2000, ...options });
}

function fakeNodeFile(id: string): { pid: number; argv: string[]; execArgv: string[] } {
  return JSON.parse(readFileSync(join(dataDir, id, 'fake-node.json'), 'utf8')) as { pid: number; argv: string[]; execArgv: string[] };
}

/** PIDs the fake nodes wrote; a node stopped before it wrote its file has none to check. */
function pidsOf(ids: string[]): number[] {
  return ids.flatMap((id) => {
    try {
      return [fakeNodeFile(id).pid];
    } catch {
      return [];
    }
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'concord-launch-'));
});

afterEach(async () => {
  client?.close();
  client = undefined;
  await cluster?.stop();
  cluster = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

test('starts every node with its own data dir and the others as peers, then stops them all', async () => {
  cluster = await launch();
  const { nodes } = cluster;
  expect(nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
  expect(new Set(nodes.map((n) => n.address)).size).toBe(3);
  const n1 = fakeNodeFile('n1');
  expect(n1.pid).toBe(nodes[0]!.pid);
  expect(n1.argv).toEqual([
    '--id', 'n1', '--listen', nodes[0]!.address, '--data-dir', join(dataDir, 'n1'), '--role', 'master',
    '--cluster-id', 'local', '--peers', `n2=${nodes[1]!.address},n3=${nodes[2]!.address}`,
  ]);
  // Node itself gets the node's V8 flags (a 64 MiB young generation), ahead of the tsx loader.
  expect(nodeV8Flags).toContain('--max-semi-space-size=64');
  expect(n1.execArgv.slice(0, nodeV8Flags.length + 2)).toEqual([...nodeV8Flags, '--import', 'tsx']);
  client = new ConcordClient({ endpoints: nodes.map((n) => n.address) });
  expect((await client.statusAll()).map((r) => r.ok && r.status.nodeId)).toEqual(['n1', 'n2', 'n3']);

  const pids = nodes.map((n) => n.pid);
  await cluster.stop();
  expect(pids.filter(isRunning)).toEqual([]);
});

test('roles: masters n1 n2 and witness w1, each told its role and every peer\'s', async () => {
  cluster = await launch({ roles: ['master', 'master', 'witness'] });
  const [n1, n2, w1] = cluster.nodes;
  expect(cluster.nodes.map((n) => [n.id, n.role])).toEqual([['n1', 'master'], ['n2', 'master'], ['w1', 'witness']]);
  expect(fakeNodeFile('w1').argv).toEqual([
    '--id', 'w1', '--listen', w1!.address, '--data-dir', join(dataDir, 'w1'), '--role', 'witness',
    '--cluster-id', 'local', '--peers', `n1=${n1!.address}/master,n2=${n2!.address}/master`,
  ]);
  expect(fakeNodeFile('n1').argv).toContain(`n2=${n2!.address}/master,w1=${w1!.address}/witness`);
  await expect(launch({ nodes: 2, roles: ['master'] })).rejects.toThrow(/roles has 1 entries for 2 nodes/);
});

test('a node that exits before ready rejects with its stderr, and the others are stopped', async () => {
  const env = { ...process.env, FAKE_NODE_FAIL: 'n2' };
  await expect(launch({ env })).rejects.toThrow(/node n2 exited \(code 3\) before it was ready[\s\S]*refusing to start/);
  expect(pidsOf(['n1', 'n3']).filter(isRunning)).toEqual([]);
});

test('on free ports, a port taken between its pick and the bind means a new launch on new ports, the failed one unheard', async () => {
  const exits: string[] = [];
  const env = { ...process.env, FAKE_NODE_BUSY_ONCE: `n2:${join(dataDir, 'busy-once')}` };
  cluster = await launch({ env, onExit: (id) => exits.push(id) });
  expect(cluster.nodes.map((n) => fakeNodeFile(n.id).pid).every(isRunning)).toBe(true);
  expect(exits).toEqual([]);
  // A node that fails for another reason is not launched again.
  await expect(launch({ env: { ...process.env, FAKE_NODE_FAIL: 'n1' } })).rejects.toThrow(/refusing to start/);
});

test('a node that never gets ready is killed after the timeout', async () => {
  const env = { ...process.env, FAKE_NODE_HANG: 'n1' };
  await expect(launch({ nodes: 1, env, readyTimeoutMs: 3000 })).rejects.toThrow(/node n1 was not ready within 3000 ms/);
  expect(pidsOf(['n1']).filter(isRunning)).toEqual([]);
});

test('kill and restart are expected exits; a crash from outside is reported as unexpected', async () => {
  const exits: [string, ExitInfo][] = [];
  let secondExit!: () => void;
  const twoExits = new Promise<void>((resolve) => (secondExit = resolve));
  const onExit = (id: string, info: ExitInfo): void => {
    if (exits.push([id, info]) === 2) secondExit();
  };
  cluster = await launch({ nodes: 2, onExit });
  const [n1, n2] = cluster.nodes;
  const firstPid = n1!.pid;
  await cluster.kill('n1');
  expect(isRunning(firstPid)).toBe(false);
  await cluster.restart('n1');
  expect(n1!.pid).not.toBe(firstPid);
  client = new ConcordClient({ endpoints: [n1!.address] });
  expect((await client.status(n1!.address)).nodeId).toBe('n1');

  process.kill(n2!.pid, 'SIGKILL');
  await twoExits;
  expect(exits).toEqual([
    ['n1', { code: null, signal: 'SIGKILL', expected: true }],
    ['n2', { code: null, signal: 'SIGKILL', expected: false }],
  ]);
});
