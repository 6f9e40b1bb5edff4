import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { kvOps } from '../../clients/client/kvOps';
import { kvOnce } from '../../clients/client/saga/kvOnce';
import { PermanentError, SagaRunner, type MaintenanceRound, type SagaDefinition, type StepContext } from '../../clients/client/saga/SagaRunner';
import { kvSagaStore } from '../../clients/client/saga/SagaStore';
import type { SagaRecord } from '../../clients/client/saga/SagaRecord';
import { startTestCluster, type TestCluster } from './startTestCluster';

// Sagas on three real nodes, their records and markers in the authoritative KV store: a money
// transfer (debit, then credit, the debit refunded when the credit fails for good), each step
// made once with kvOnce; a runner that crashes mid-saga is taken over by another once its lease
// ends, and nothing is debited twice; the CLI lists and shows them.

jest.setTimeout(60_000);

let tc: TestCluster;
let client: ConcordClient;
const runners: SagaRunner[] = [];

beforeAll(async () => {
  tc = await startTestCluster(3);
  client = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address), deadlineMs: 5000 });
});

afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
  client?.close();
  await tc?.stop();
});

interface Transfer {
  readonly from: string;
  readonly to: string;
  readonly amount: number;
}

const balanceKey = (account: string): string => `bank/${account}`;

async function balance(account: string): Promise<number | undefined> {
  const kv = (await client.kvRange(balanceKey(account))).kvs[0];
  return kv === undefined ? undefined : Number(Buffer.from(kv.value).toString());
}

/** Adds `delta` to an account once under the step's marker: a read, then a compare-and-set with the marker. */
function move(ctx: StepContext<Transfer>, account: string, delta: number): Promise<unknown> {
  return kvOnce(client, ctx, async () => {
    const kv = (await client.kvRange(balanceKey(account))).kvs[0];
    if (kv === undefined) throw new PermanentError(`no account ${account}`);
    const now = Number(Buffer.from(kv.value).toString());
    if (now + delta < 0) throw new PermanentError(`insufficient funds in ${account}: ${now} < ${-delta}`);
    return { compare: [kvOps.compare('mod', balanceKey(account), '=', kv.modRevision)], success: [kvOps.put(balanceKey(account), String(now + delta))], result: { before: now } };
  });
}

function transfer(gate?: Promise<void>): SagaDefinition<Transfer> {
  return {
    type: 'transfer',
    steps: [
      { name: 'debit', run: (ctx) => move(ctx, ctx.input.from, -ctx.input.amount), compensate: async (ctx) => void (await move(ctx, ctx.input.from, ctx.input.amount)) },
      {
        name: 'credit',
        run: async (ctx) => {
          await gate;
          return move(ctx, ctx.input.to, ctx.input.amount);
        },
      },
    ],
  };
}

const runner = (def: SagaDefinition<Transfer>, leaseTtlMs = 10_000): SagaRunner => {
  const r = new SagaRunner(kvSagaStore(client), { leaseTtlMs, backoffMs: 20 }).define(def);
  runners.push(r);
  return r;
};

test('a transfer debits once and credits once; one whose credit fails for good is refunded', async () => {
  await client.kvPut(balanceKey('alice'), '100');
  await client.kvPut(balanceKey('bob'), '0');
  const r = runner(transfer());
  const done = await r.start('transfer', 't1', { from: 'alice', to: 'bob', amount: 30 });
  expect(done).toMatchObject({ status: 'done', steps: [{ name: 'debit', state: 'done', output: { before: 100 } }, { name: 'credit', state: 'done', output: { before: 0 } }] });
  expect([await balance('alice'), await balance('bob')]).toEqual([70, 30]);
  // Starting the same id again changes nothing: the saga is finished.
  expect((await r.start('transfer', 't1', { from: 'alice', to: 'bob', amount: 30 })).status).toBe('done');
  expect([await balance('alice'), await balance('bob')]).toEqual([70, 30]);
  // No account "carol": the credit fails for good, the debit is refunded.
  const refunded = await r.start('transfer', 't2', { from: 'alice', to: 'carol', amount: 50 });
  expect(refunded).toMatchObject({ status: 'compensated', reason: 'step credit failed: no account carol', steps: [{ state: 'compensated' }, { state: 'failed', attempts: 1 }] });
  expect(await balance('alice')).toBe(70);
  // Insufficient funds: the first step fails for good, nothing to undo.
  expect((await r.start('transfer', 't3', { from: 'bob', to: 'alice', amount: 1000 })).status).toBe('compensated');
  expect([await balance('alice'), await balance('bob')]).toEqual([70, 30]);
});

test('a runner that crashes mid-saga is taken over once its lease ends, and nothing is moved twice', async () => {
  await client.kvPut(balanceKey('dave'), '10');
  await client.kvPut(balanceKey('erin'), '0');
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const first = runner(transfer(gate), 1500);
  const running = first.start('transfer', 't4', { from: 'dave', to: 'erin', amount: 4 }).catch((err: unknown) => err);
  // Debited, the debit recorded, and the credit under way: the process dies (no release, no revoke).
  await waitFor(async () => {
    const kv = (await client.kvRange(first.recordKey('t4'))).kvs[0];
    return kv !== undefined && (JSON.parse(Buffer.from(kv.value).toString()) as SagaRecord).steps[1]?.state === 'running';
  });
  expect(await balance('dave')).toBe(6);
  first.abandon();
  open();
  expect(await running).toMatchObject({ name: 'SagaLostError' });
  const second = runner(transfer());
  // Held by the dead runner's lease until it ends.
  await expect(second.resume('t4')).rejects.toThrow('saga t4 is driven by another runner');
  // Its maintenance rounds take the saga over once the dead runner's lease has ended.
  const rounds: MaintenanceRound[] = [];
  const stop = second.maintain({ everyMs: 200, onRound: (r) => rounds.push(r) });
  const resumed = await waitFor(async () => rounds.flatMap((r) => r.resumed).find((r) => r.id === 't4'), 10_000);
  stop();
  expect(rounds.flatMap((r) => [...r.failed, ...(r.error === undefined ? [] : [r.error])])).toEqual([]);
  expect(resumed).toMatchObject({ status: 'done', steps: [{ state: 'done', attempts: 1 }, { state: 'done', attempts: 2 }] });
  expect([await balance('dave'), await balance('erin')]).toEqual([6, 4]);
});

test('the CLI lists the sagas and shows one', async () => {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(',') };
  const run = (args: string[]): Promise<{ code: number; stdout: string }> => new Promise((done) => {
    execFile(process.execPath, [path.resolve(__dirname, '../../clients/cli/concord.js'), ...args], { env, timeout: 20_000 }, (error, stdout) => done({ code: error === null ? 0 : Number(error.code), stdout }));
  });
  const list = await run(['saga', 'list']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/^ID +TYPE +STATUS +STEPS +UPDATED +REASON$/m);
  expect(list.stdout).toMatch(/^t2 +transfer +compensated +1\/2 +\S+ +step credit failed: no account carol$/m);
  const show = await run(['saga', 'show', 't1']);
  expect(show.stdout).toContain('saga t1  type=transfer  status=done');
  expect(show.stdout).toMatch(/^1 +credit +done +1 +\{"before":0\}$/m);
  expect((await run(['saga', 'list', '--status', 'stuck'])).stdout.trim()).toBe('no sagas');
  expect((await run(['saga', 'show', 'nope'])).code).toBe(1);
  // Finished sagas are pruned with their markers.
  expect((await run(['saga', 'prune', '--older-than', '0'])).stdout.trim()).toBe('removed 4 finished sagas');
  expect((await run(['saga', 'list'])).stdout.trim()).toBe('no sagas');
  expect((await client.kvRange('sagas/m/', { prefix: true })).kvs).toEqual([]);
});

async function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
