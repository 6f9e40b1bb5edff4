// Proves the authoritative commands of the real CLI (node clients/cli/concord.js, one process
// per command) against three real voters: kv put/get/del and a CAS txn that wins once, leases
// (grant, put --lease, keepalive, revoke), a bounded counter refused below its floor, a
// minority node refusing at once and naming the voters it reaches, status with the log; and
// that ConcordClient.kvWatch survives the SIGKILL of the node it watches on, losing and
// repeating nothing on any of the watches its stream carries.
import { status } from '@grpc/grpc-js';
import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { kvOps } from '../../clients/client/kvOps';
import { eventually } from './nodeStubs';
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

/** Runs the CLI with the cluster's endpoints and admin token; `input` is its stdin (always closed). */
function concord(args: string[], input = ''): Promise<Run> {
  const started = Date.now();
  return new Promise<Run>((done) => {
    const env = { ...process.env, CONCORD_ENDPOINTS: all, CONCORD_ADMIN_TOKEN: testAdminToken };
    const child = execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env, timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin?.end(input);
  });
}

const json = <T>(run: Run): T => JSON.parse(run.stdout) as T;
// Setup and checks that are not what a test is about go through the client in-process: each
// CLI process costs a tsx start-up.
let client: ConcordClient;
const valueOf = async (key: string): Promise<string | undefined> => (await client.kvRange(key)).kvs[0]?.value.toString();

beforeAll(async () => {
  tc = await startTestCluster(3);
  all = tc.cluster.nodes.map((n) => n.address).join(',');
  client = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address), deadlineMs: 2000, cooldownMs: 200 });
  await eventually('a leader', async () => (await tc.stubs[0]!.status()).authority?.leaderId !== '');
}, 60_000);

afterAll(async () => {
  client?.close();
  await tc?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(tc.logs.slice(-40).join('\n'));
});

test('put on a follower, get elsewhere, a CAS txn wins exactly once, stdin txn, prefix get and del', async () => {
  expect(await concord(['kv', 'put', 'cli/cfg', 'v1', '--endpoints', at(1)])).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^ok {2}revision=\d+\n$/) });
  const cas = ['kv', 'txn', '--if', 'value(cli/cfg) = "v1"', '--then', 'put cli/cfg v2', '--else', 'get cli/cfg'];
  const [fromStdin, ...claims] = await Promise.all([
    concord(['kv', 'txn'], 'version(cli/new) = 0\n\nput cli/new "two words"\n'),
    concord([...cas, '--endpoints', at(0)]),
    concord([...cas, '--endpoints', at(2)]),
  ]);
  expect(fromStdin).toMatchObject({ code: 0, stdout: expect.stringMatching(/^SUCCESS {2}revision=\d+\nOK\n$/) });
  expect(claims.map((r) => r.code)).toEqual([0, 0]);
  expect(claims.map((r) => r.stdout.split('  ')[0]).sort()).toEqual(['FAILURE', 'SUCCESS']);
  expect(claims.find((r) => r.stdout.startsWith('FAILURE'))?.stdout).toMatch(/\ncli\/cfg\nv2\n$/);

  const [get, keys] = await Promise.all([
    concord(['kv', 'get', 'cli/cfg', '--json', '--endpoints', at(2)]),
    concord(['kv', 'get', 'cli/', '--prefix', '--keys-only']),
  ]);
  expect(json<{ kvs: { key: string; value: string; version: number }[] }>(get).kvs).toEqual([expect.objectContaining({ key: 'cli/cfg', value: 'v2', version: 2 })]);
  expect(keys.stdout).toMatch(/^cli\/cfg\ncli\/new\n# revision=\d+ {2}count=2\n$/);
  expect(await concord(['kv', 'del', 'cli/', '--prefix'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok {2}deleted=2 {2}revision=\d+\n$/) });
  expect((await client.kvRange('cli/', { prefix: true })).count).toBe(0n);
}, 45_000);

test('lease grant (growing fencing token), put --lease, keepalive --once, revoke deletes the key', async () => {
  // A TTL far beyond a few CLI start-ups, so the lease cannot expire on a loaded machine.
  const grants = await Promise.all([concord(['lease', 'grant', '1m', '--json']), concord(['lease', 'grant', '60s', '--json'])]);
  const [a, b] = grants.map((r) => json<{ id: number; ttlMs: number; fencingToken: number }>(r)).sort((x, y) => x.fencingToken - y.fencingToken);
  expect(a!.ttlMs).toBe(60_000);
  expect(b!.fencingToken).toBeGreaterThan(a!.fencingToken);
  const [put, keep] = await Promise.all([
    concord(['kv', 'put', 'cli/lock', 'holder', '--lease', String(a!.id)]),
    concord(['lease', 'keepalive', String(a!.id), '--once']),
  ]);
  expect(put).toMatchObject({ code: 0, stderr: '' });
  expect(keep).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^lease ${a!.id} kept alive {2}ttl=\\d+(\\.\\d+)?m?s {2}fencing_token=${a!.fencingToken}\\n$`)) });
  expect((await client.kvRange('cli/lock')).kvs[0]?.lease).toBe(BigInt(a!.id));
  expect(await concord(['lease', 'revoke', String(a!.id)])).toMatchObject({ code: 0, stdout: `ok  lease ${a!.id} revoked\n` });
  expect((await client.kvRange('cli/lock')).count).toBe(0n);
}, 45_000);

test('lease timetolive and list: time left on the leader clock, granted TTL, token, keys; forwarded by a follower; NOT_FOUND once gone', async () => {
  let leaderId = '';
  await eventually('a leader', async () => (leaderId = (await tc.stubs[0]!.status()).authority?.leaderId ?? '') !== '');
  const follower = tc.cluster.nodes.findIndex((n) => n.id !== leaderId);
  const viaFollower = new ConcordClient({ endpoints: [at(follower)], deadlineMs: 2000 });
  try {
    const g = await client.leaseGrant(60_000);
    await client.kvPut('ttl/b', 'x', { lease: g.id });
    await client.kvPut('ttl/a', 'y', { lease: g.id });
    const first = await viaFollower.leaseTimeToLive(g.id, { keys: true });
    expect(first).toMatchObject({ id: g.id, grantedTtlMs: 60_000n, fencingToken: g.fencingToken, keys: ['ttl/a', 'ttl/b'], keyCount: 2n });
    expect(first.ttlMs > 0n && first.ttlMs <= 60_000n).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    const later = await viaFollower.leaseTimeToLive(g.id);
    expect(later.keys).toEqual([]); // not asked for
    expect(later.keyCount).toBe(2n);
    expect(later.ttlMs < first.ttlMs).toBe(true); // the leader's clock runs
    await client.leaseKeepAlive(g.id);
    expect((await client.leaseTimeToLive(g.id)).ttlMs > later.ttlMs).toBe(true); // renewed to its TTL

    const text = await concord(['lease', 'timetolive', String(g.id), '--keys', '--endpoints', at(follower)]);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toMatch(new RegExp(`^lease ${g.id} {2}ttl=\\d+(\\.\\d+)?m?s {2}granted=60s {2}fencing_token=${g.fencingToken} {2}keys=2\n {2}ttl/a\n {2}ttl/b\n$`));
    const list = json<{ leases: { id: number; grantedTtlMs: number; keyCount: number }[] }>(await concord(['lease', 'list', '--json']));
    expect(list.leases).toContainEqual(expect.objectContaining({ id: Number(g.id), grantedTtlMs: 60_000, keyCount: 2 }));
    expect(list.leases.map((l) => l.id)).toEqual([...list.leases.map((l) => l.id)].sort((x, y) => x - y));

    await client.leaseRevoke(g.id);
    await expect(viaFollower.leaseTimeToLive(g.id)).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect((await client.leaseLeases()).leases.map((l) => l.id)).not.toContain(g.id);
    expect(await concord(['lease', 'timetolive', String(g.id)])).toMatchObject({ code: 1, stderr: expect.stringMatching(/NOT_FOUND/) });
    await expect(client.leaseTimeToLive(-1n)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });

    // One that expires: gone from both once its TTL ends.
    const short = await client.leaseGrant(3000);
    expect((await client.leaseLeases()).leases.map((l) => l.id)).toContain(short.id);
    await eventually('the short lease expired', async () => (await client.leaseTimeToLive(short.id).then(() => false, (e: { code?: number }) => e.code === status.NOT_FOUND)), 10_000);
    expect((await client.leaseLeases()).leases.map((l) => l.id)).not.toContain(short.id);
  } finally {
    viaFollower.close();
  }
}, 45_000);

test('counter add with a floor: refused (exit 1, FAILED_PRECONDITION) when it would cross it, accepted otherwise', async () => {
  await client.counterAdd('wallet/alice', 100);
  // Either order gives the same answers: 100 or 70 minus 130 is below 0; 100 minus 30 is not.
  const [refused, accepted] = await Promise.all([
    concord(['counter', 'add', 'wallet/alice', '--', '-130', '--floor', '0']),
    concord(['counter', 'add', 'wallet/alice', '--', '-30', '--floor', '0']),
  ]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^error: FAILED_PRECONDITION: counter wallet\/alice is (100|70); adding -130 would go below the floor 0\n/);
  expect(accepted).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok {2}wallet\/alice=70 {2}revision=\d+\n$/) });
  expect(await concord(['counter', 'get', 'wallet/alice', '--endpoints', at(2)])).toMatchObject({ code: 0, stdout: '70\n' });
}, 45_000);

test('status shows term, leader and, on the leader, every voter\'s match index', async () => {
  const [asJson, human] = await Promise.all([concord(['status', '--json']), concord(['status'])]);
  const nodes = json<{ nodeId: string; authority: { term: number; leaderId: string; role: string; commit: number; voters: { nodeId: string; match: number }[] } }[]>(asJson);
  const leaders = new Set(nodes.map((n) => n.authority.leaderId));
  expect(leaders.size).toBe(1);
  expect(nodes.every((n) => n.authority.term > 0 && n.authority.commit > 0)).toBe(true);
  const leader = nodes.find((n) => n.nodeId === [...leaders][0]);
  expect(leader?.authority.role).toBe('leader');
  expect(leader?.authority.voters.map((v) => v.nodeId).sort()).toEqual(['n1', 'n2', 'n3']);
  expect(human.stdout).toMatch(/ {2}log: term=\d+ {2}leader=n\d {2}role=leader {2}commit=\d+/);
  expect(human.stdout).toMatch(/ {4}voter n\d {2}match=\d+ {2}next=\d+/);
}, 45_000);

test('partition n1 | n2 n3: n1 refuses the debit at once naming n1; n2 takes it; after the heal n1 agrees', async () => {
  expect(await concord(['partition', 'n1', '|', 'n2', 'n3'])).toMatchObject({ code: 0 });
  const n1 = new ConcordClient({ endpoints: [at(0)], deadlineMs: 1000 });
  try {
    // n1 refuses once its failure detector has seen the cut (a couple of election timeouts);
    // a read tells when, without risking a debit that n1 might still have forwarded.
    await eventually('n1 knows it is cut off', () => n1.kvRange('wallet/alice').then(() => false, (e: { code?: number }) => e.code === status.UNAVAILABLE), 10_000);
    // ...and the majority has elected its own leader (until then it answers UNAVAILABLE too).
    await eventually('n2 and n3 elect a leader', async () => ['n2', 'n3'].includes((await tc.stubs[1]!.status()).authority?.leaderId ?? ''), 10_000);
    const debit = ['counter', 'add', 'wallet/alice', '--', '-20', '--floor', '0'];
    const [minority, majority] = await Promise.all([concord([...debit, '--timeout', '20000', '--endpoints', at(0)]), concord([...debit, '--endpoints', at(1)])]);
    expect(minority).toMatchObject({ code: 1, stdout: '' });
    // Further detail lines (e.g. the leader this node last knew) may follow.
    expect(minority.stderr).toMatch(/^error: UNAVAILABLE: no quorum: this node reaches 1 of 3 voters \(n1\).* \(reachable voters: n1\)\n(  .*\n)*$/);
    // Refused at once, not at the deadline (20 s); the bound leaves room for a slow process start.
    expect(minority.ms).toBeLessThan(12_000);
    expect(majority).toMatchObject({ code: 0, stdout: expect.stringMatching(/wallet\/alice=50/) });
  } finally {
    expect(await concord(['heal'])).toMatchObject({ code: 0 });
  }
  try {
    await eventually('n1 agrees after the heal', async () => (await n1.kvRange('wallet/alice')).kvs[0]?.value.toString() === '50', 10_000);
  } finally {
    n1.close();
  }
}, 45_000);

test('kv watch prints revision, type, key and value until SIGINT, then exits 0', async () => {
  const revision = (await client.kvPut('cli/w/a', '1')).header!.revision;
  const env = { ...process.env, CONCORD_ENDPOINTS: all };
  const child = spawn(process.execPath, [bin, 'kv', 'watch', 'cli/w/', '--prefix', '--rev', String(revision)], { cwd: repoRoot, env });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  try {
    await client.kvPut('cli/w/b', 'two words');
    await client.kvDelete('cli/w/a');
    await eventually('three events', async () => lines.length >= 3, 15_000);
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited).toBe(0);
  expect(lines[0]).toBe(`${revision}  PUT  cli/w/a  1`);
  expect(lines.slice(1)).toEqual([expect.stringMatching(/^\d+ {2}PUT {2}cli\/w\/b {2}two words$/), expect.stringMatching(/^\d+ {2}DELETE {2}cli\/w\/a$/)]);
  expect(await valueOf('cli/w/b')).toBe('two words');
}, 45_000);

test('ConcordClient.kvWatch survives the SIGKILL of the node it watches on: every watch on the shared stream loses and repeats nothing', async () => {
  const stop = new AbortController();
  const seen: { revision: bigint; key: string; nodeId: string }[] = [];
  // Beside the prefix watch, single-key watches on the same stream (one from a revision, one
  // from now): each resumes from its own next revision.
  const single: Record<string, bigint[]> = { 'watched/2': [], 'marker/now': [] };
  const watchKey = async (key: string, startRevision?: bigint): Promise<void> => {
    for await (const response of client.kvWatch(key, { startRevision, signal: stop.signal })) single[key]!.push(response.header!.revision);
  };
  try {
    const first = await putOnce('watched/0');
    const watching = [
      (async () => {
        for await (const response of client.kvWatch('watched/', { prefix: true, startRevision: first, signal: stop.signal })) {
          for (const event of response.events) seen.push({ revision: response.header!.revision, key: event.kv!.key, nodeId: response.header!.nodeId });
        }
      })(),
      watchKey('watched/2', first),
      watchKey('marker/now'),
    ];
    await eventually('the first event', async () => seen.length === 1, 10_000);
    // A watch from now misses a put made before it began: put until it sees one.
    const markers: bigint[] = [];
    await eventually('the watch from now in place', async () => {
      markers.push((await client.kvPut('marker/now', 'm')).header!.revision);
      await new Promise((r) => setTimeout(r, 100));
      return single['marker/now']!.length > 0;
    }, 10_000);
    const firstMarker = single['marker/now']![0]!;
    await tc.cluster.kill(seen[0]!.nodeId, 'SIGKILL');
    for (let i = 1; i <= 5; i++) await putOnce(`watched/${i}`);
    const lastMarker = (await client.kvPut('marker/now', 'm')).header!.revision;
    await eventually('every event', async () => seen.length >= 6 && single['watched/2']!.length >= 1 && single['marker/now']!.at(-1) === lastMarker, 15_000);
    await new Promise((r) => setTimeout(r, 300)); // room for a repeat to show up
    stop.abort();
    await Promise.all(watching);
    expect(seen.map((e) => e.key)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `watched/${i}`));
    expect(seen.every((e, i) => i === 0 || e.revision > seen[i - 1]!.revision)).toBe(true);
    expect(seen.slice(1).every((e) => e.nodeId !== seen[0]!.nodeId)).toBe(true);
    // Each key's creation was seen at the revision the store recorded for it.
    const { kvs } = await client.kvRange('watched/', { prefix: true });
    expect(kvs.map((kv) => kv.createRevision)).toEqual(seen.map((e) => e.revision));
    expect(single).toEqual({ 'watched/2': [seen[2]!.revision], 'marker/now': [...markers.filter((r) => r >= firstMarker), lastMarker] });
  } finally {
    stop.abort();
  }
}, 45_000);

/** Creates `key` exactly once, retrying through a failover: the compare makes a repeat harmless. */
async function putOnce(key: string): Promise<bigint> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      await client.kvTxn({ compare: [kvOps.compare('version', key, '=', 0)], success: [kvOps.put(key, 'x')] });
      const { kvs } = await client.kvRange(key);
      return kvs[0]!.createRevision;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
