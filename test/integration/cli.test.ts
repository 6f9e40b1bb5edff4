// Proves the real `concord` CLI (node clients/cli/concord.js, a child process per command)
// against a real three-node cluster: document commands round trip across nodes, a wrong admin
// token changes nothing, `partition n1 | n2 n3` makes n1's QUORUM write fail fast with
// UNAVAILABLE while n2's succeeds, `heal` brings n2's write to n1, and the ledger records it.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { startTestCluster, testAdminToken, type TestCluster } from './startTestCluster';

const bin = resolve(__dirname, '../../clients/cli/concord.js');
const repoRoot = resolve(__dirname, '../..');

let tc: TestCluster;
let all: string;
const at = (i: number): string => tc.cluster.nodes[i]!.address;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI with the cluster's endpoints and admin token in its environment. */
function concord(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  return new Promise<Run>((done) => {
    const childEnv = { ...process.env, CONCORD_ENDPOINTS: all, CONCORD_ADMIN_TOKEN: testAdminToken, ...env };
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env: childEnv, timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Reruns `args` until `check` accepts the output (replication and healing take a moment). */
async function eventually(args: string[], check: (run: Run) => boolean, timeoutMs = 10_000): Promise<Run> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await concord(args);
    if (check(run)) return run;
    if (Date.now() > until) {
      throw new Error(`concord ${args.join(' ')} never satisfied the check; last run: ${JSON.stringify(run)}\n${tc.logs.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Episode {
  peerId: string;
  cause: string;
  healedAtMs: number;
  localUpdates: number;
  documents: string[];
}

/** n1's episode with n2 in which cli/split diverged, from `ledger --json --node n1`. */
function splitEpisode(run: Run): Episode | undefined {
  const [n1] = JSON.parse(run.stdout) as { episodes?: Episode[] }[];
  return n1?.episodes?.find((e) => e.peerId === 'n2' && e.documents.includes('cli/split'));
}

const documentOf = (run: Run): Record<string, unknown> => (JSON.parse(run.stdout) as { document: Record<string, unknown> }).document;

beforeAll(async () => {
  tc = await startTestCluster(3);
  all = tc.cluster.nodes.map((n) => n.address).join(',');
}, 60_000);

afterAll(async () => {
  await tc?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(tc.logs.slice(-40).join('\n'));
});

test('a wrong admin token is UNAUTHENTICATED and cuts nothing', async () => {
  const run = await concord(['partition', 'n1', '-/-', 'n2'], { CONCORD_ADMIN_TOKEN: 'wrong' });
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^error: UNAUTHENTICATED: .*came from \$CONCORD_ADMIN_TOKEN/);
  // Checked by the status --json of the next test: no link anywhere is cut.
});

test('set, add, text-insert on three nodes; get, ls and status --json see them', async () => {
  const writes = await Promise.all([
    concord(['set', 'cli/doc', 'm.greeting', '"hi"', '--ack', 'quorum', '--endpoints', at(0)]),
    concord(['add', 'cli/doc', 'visits', '2', '--ack', 'quorum', '--endpoints', at(1)]),
    concord(['text-insert', 'cli/doc', 'note', '0', 'no sugar', '--ack', 'quorum', '--endpoints', at(2)]),
  ]);
  for (const write of writes) expect(write).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^ok {2}node=n\d {2}acked_by=[23] {2}version=[0-9a-f]+\n$/) });
  const expected = { m: { greeting: 'hi' }, visits: 2, note: 'no sugar' };
  const [get, ls, status] = await Promise.all([
    eventually(['get', 'cli/doc', '--json', '--endpoints', at(2)], (r) => r.code === 0 && isDeepStrictEqual(documentOf(r), expected)),
    concord(['ls', 'cli/', '--json', '--endpoints', at(1)]),
    concord(['status', '--json']),
  ]);
  expect(documentOf(get)).toEqual(expected);
  expect((JSON.parse(ls.stdout) as { documentId: string }[]).map((d) => d.documentId)).toEqual(['cli/doc']);
  expect(status.code).toBe(0);
  const nodes = JSON.parse(status.stdout) as { nodeId: string; reachable: boolean; peers: { cut: boolean; delayMs: number }[]; recentEpisodes: unknown[] }[];
  expect(nodes.map((n) => [n.nodeId, n.reachable])).toEqual([['n1', true], ['n2', true], ['n3', true]]);
  expect(nodes.flatMap((n) => n.peers).every((p) => !p.cut && p.delayMs === 0)).toBe(true);
}, 30_000);

test('partition n1 | n2 n3: n1 cannot reach QUORUM, n2 can; heal converges; the ledger has the episode', async () => {
  const partition = await concord(['partition', 'n1', '|', 'n2', 'n3']);
  expect(partition).toMatchObject({ code: 0, stderr: '' });
  expect(partition.stdout).toMatch(/^partition \{n1\} \| \{n2 n3\}\n {2}n1 {2}cut n2, cut n3 {2}now: n2 cut; n3 cut\n/);

  // A 10 s deadline, so an answer within a few seconds can only be the node failing fast.
  const [minority, majority] = await Promise.all([
    concord(['set', 'cli/split', 'm.n1', '1', '--ack', 'quorum', '--timeout', '10000', '--endpoints', at(0)]),
    concord(['set', 'cli/split', 'm.n2', '2', '--ack', 'quorum', '--endpoints', at(1)]),
  ]);
  expect(minority.code).toBe(1);
  expect(minority.stderr).toMatch(/^error: UNAVAILABLE: .*only 1 are reachable \(n1\)/);
  expect(minority.ms).toBeLessThan(7000); // process start-up included, on a loaded machine
  expect(majority).toMatchObject({ code: 0, stdout: expect.stringMatching(/acked_by=2/) });

  expect(await concord(['heal'])).toMatchObject({ code: 0, stdout: expect.stringContaining('heal every link') });
  const [healed, ledger] = await Promise.all([
    eventually(['get', 'cli/split', '--json', '--endpoints', at(0)], (r) => r.code === 0 && (documentOf(r).m as Record<string, number>).n2 === 2),
    eventually(['ledger', '--json', '--node', 'n1'], (r) => r.code === 0 && (splitEpisode(r)?.healedAtMs ?? 0) > 0),
  ]);
  expect(documentOf(healed)).toEqual({ m: { n1: 1, n2: 2 } });
  // n1 took one write (the failed QUORUM one) while cut off from n2. The cause is normally
  // "injected"; on a starved machine the failure detector may have opened the episode first.
  expect(splitEpisode(ledger)).toMatchObject({ peerId: 'n2', cause: expect.stringMatching(/^(injected|detected)$/), localUpdates: 1 });
  const [n1] = JSON.parse(ledger.stdout) as { nodeId: string; episodes: Episode[] }[];
  expect(n1!.nodeId).toBe('n1');
  expect(n1!.episodes.some((e) => e.peerId === 'n3' && e.healedAtMs > 0)).toBe(true);
}, 30_000);
