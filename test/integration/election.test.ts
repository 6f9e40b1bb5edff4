import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { kvOps } from '../../clients/client/kvOps';
import { campaign, electionLeader, NotLeaderError, observeElection, type Leader } from '../../clients/client/lock/election';
import { eventually } from './nodeStubs';
import { startTestCluster, type TestCluster } from './startTestCluster';

// Leader election on three real nodes, as etcd's concurrency.Election: candidates are elected
// in the order they came, each leader's fencing token greater than the last; an observer sees
// the leader, each change of its value (proclaim) and each new leader, once; a candidate that
// lost its key can no longer proclaim; `concord elect` campaigns and leads until Ctrl-C, and
// `concord elect --listen` prints every leader.

jest.setTimeout(60_000);

let tc: TestCluster;
let client: ConcordClient;
const cli = path.resolve(__dirname, '../../clients/cli/concord.js');

beforeAll(async () => {
  tc = await startTestCluster(3);
  client = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address), deadlineMs: 5000 });
});

afterAll(async () => {
  client?.close();
  await tc?.stop();
});

/** Collects what an observer tells, until stopped. */
function observe(name: string): { seen: (Leader | undefined)[]; stop: () => Promise<void> } {
  const seen: (Leader | undefined)[] = [];
  const abort = new AbortController();
  const done = (async () => {
    for await (const leader of observeElection(client, name, { signal: abort.signal })) seen.push(leader);
  })();
  return { seen, stop: async () => { abort.abort(); await done; } };
}

const values = (seen: readonly (Leader | undefined)[]): (string | null)[] => seen.map((l) => l?.value ?? null);

test('candidates lead in the order they came; an observer sees each leader and each proclaimed value once', async () => {
  const watcher = observe('primary');
  await eventually('the observer told there is no leader', async () => watcher.seen.length === 1);
  expect(watcher.seen).toEqual([undefined]);
  // TTLs far beyond a stall of a loaded machine: a lease that ran out would change the order.
  const a = await campaign(client, 'primary', 'node-a', { ttlMs: 30_000 });
  let bElected = false;
  const b = campaign(client, 'primary', 'node-b', { ttlMs: 30_000 }).then((led) => {
    bElected = true;
    return led;
  });
  await eventually('b campaigns', async () => (await client.kvRange('elections/primary/', { prefix: true })).kvs.length === 2);
  expect(bElected).toBe(false);
  expect(await electionLeader(client, 'primary')).toMatchObject({ key: a.key, value: 'node-a', fencingToken: a.fencingToken });
  await a.proclaim('node-a:v2');
  await eventually('the observer saw the proclaim', async () => values(watcher.seen).includes('node-a:v2'));
  await a.resign();
  const led = await b;
  expect(led.fencingToken > a.fencingToken).toBe(true);
  await eventually('the observer saw b', async () => values(watcher.seen).includes('node-b'));
  await led.resign();
  await eventually('the observer saw no leader again', async () => watcher.seen.length === 5);
  await watcher.stop();
  expect(values(watcher.seen)).toEqual([null, 'node-a', 'node-a:v2', 'node-b', null]);
  expect(await electionLeader(client, 'primary')).toBeUndefined();
});

test('a leader whose key went cannot proclaim, and is told through lost', async () => {
  const led = await campaign(client, 'fragile', 'x', { ttlMs: 30_000 });
  const lost = new Promise((resolve) => led.lost.addEventListener('abort', resolve, { once: true }));
  await client.kvDelete(led.key);
  await lost;
  await expect(led.proclaim('y')).rejects.toBeInstanceOf(NotLeaderError);
  // Written over by hand (no lease): the compare on the lease refuses too, even before lost is heard.
  const second = await campaign(client, 'fragile', 'z', { ttlMs: 30_000 });
  await client.kvTxn({ compare: [], success: [kvOps.put(second.key, 'by hand')] });
  await expect(second.proclaim('again')).rejects.toBeInstanceOf(NotLeaderError);
  expect((await client.kvRange(second.key)).kvs[0]?.lease).toBe(0n);
  await second.resign();
  await client.kvDelete(second.key);
  expect(await electionLeader(client, 'fragile')).toBeUndefined(); // the failed proclaim wrote nothing
  await led.resign();
});

test('concord elect leads until Ctrl-C, and concord elect --listen prints every leader', async () => {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(',') };
  const listener = spawn(process.execPath, [cli, 'elect', 'cli', '--listen'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const candidate = spawn(process.execPath, [cli, 'elect', 'cli', 'worker-1', '--ttl', '5s'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const heard: string[] = [];
    createInterface({ input: listener.stdout! }).on('line', (l) => heard.push(l));
    let said = '';
    candidate.stdout!.on('data', (d: Buffer) => (said += d.toString()));
    await eventually('elected', async () => said.includes('elected cli') && said.endsWith('\n'), 20_000);
    expect(said).toMatch(/^elected cli {2}key=elections\/cli\/[0-9a-f]+ {2}fencing_token=\d+\n$/);
    await eventually('the listener heard worker-1', async () => heard.some((l) => l.startsWith('leader cli  value="worker-1"  key=elections/cli/')), 20_000);
    candidate.kill('SIGINT');
    expect(await new Promise((resolve) => candidate.once('exit', resolve))).toBe(0);
    await eventually('the listener heard the resignation', async () => heard.at(-1) === 'no leader cli', 10_000);
    expect(heard.filter((l) => l.startsWith('leader cli')).length).toBe(1);
  } finally {
    candidate.kill('SIGKILL');
    listener.kill('SIGKILL');
  }
});
