// Seeded simulation of sagas on the nodes' own KV state machine (MemoryKvClient): steps add 1 to
// a counter of their own with kvOnce and compensations take it back, while steps fail (for a
// while, for good, after their effect, or by hanging past their timeout), store calls fail
// before or after they apply or land late (a stalled runner's write), and runners crash and are
// taken over once their lease ends. Whatever happens, every saga ends done (every counter 1) or
// compensated (every counter that went up back to 0, newest first, nothing run after the first
// undo); no counter ever counts an effect twice. A seed that fails prints itself.
import { kvOnce } from '../../../clients/client/saga/kvOnce';
import type { SagaRecord } from '../../../clients/client/saga/SagaRecord';
import { PermanentError, SagaLostError, SagaOwnedError, SagaRunner, type MaintenanceRound, type SagaStep, type StepContext } from '../../../clients/client/saga/SagaRunner';
import { kvSagaStore } from '../../../clients/client/saga/SagaStore';
import { kvOps } from '../../../clients/client/kvOps';
import { makePrng, type Prng } from '../../sim/prng';
import { withinMs } from '../../sim/withinMs';
import { MemoryKvClient } from './MemoryKvClient';

const counterKey = (i: number): string => `count/s${i}`;

/** Adds `delta` to step i's counter, once under the attempt's marker and fence. */
function add(kv: MemoryKvClient, ctx: StepContext<unknown>, i: number, delta: number): Promise<unknown> {
  return kvOnce(kv, ctx, async () => {
    const cur = (await kv.kvRange(counterKey(i))).kvs[0];
    const now = cur === undefined ? 0 : Number(Buffer.from(cur.value).toString());
    return { compare: [kvOps.compare('mod', counterKey(i), '=', cur?.modRevision ?? 0)], success: [kvOps.put(counterKey(i), String(now + delta))], result: now + delta };
  });
}

interface StepScript {
  /** Attempts that fail: 'before' the effect, 'after' it, or 'hang' past the timeout. */
  readonly failures: ('before' | 'after' | 'hang')[];
  readonly permanent: boolean;
  readonly compensable: boolean;
  readonly compensationFailures: number;
}

function script(p: Prng, steps: number): StepScript[] {
  return Array.from({ length: steps }, () => ({
    failures: Array.from({ length: p.chance(0.4) ? 1 + p.int(3) : 0 }, () => p.pick(['before', 'after', 'hang'] as const)),
    permanent: p.chance(0.1),
    compensable: p.chance(0.85),
    compensationFailures: p.chance(0.3) ? p.int(14) : 0,
  }));
}

async function simulate(seed: number): Promise<{ record: SagaRecord; kv: MemoryKvClient; scriptOf: StepScript[]; runners: number; late: number }> {
  const p = makePrng(seed);
  const kv = new MemoryKvClient();
  const steps = script(p, 1 + p.int(4));
  const failuresLeft = steps.map((s) => [...s.failures]);
  const compFailuresLeft = steps.map((s) => s.compensationFailures);
  const faultRate = p.pick([0, 0.03, 0.08]);
  const holdRate = p.pick([0, 0.01, 0.03]);
  const crashRate = p.pick([0, 0.05, 0.15]);
  kv.fault = () => {
    const x = p.next();
    return x < faultRate / 2 ? 'before' : x < faultRate ? 'after' : x < faultRate + holdRate ? 'hold' : undefined;
  };
  let runner: SagaRunner | undefined;
  const definition = {
    type: 'sim',
    steps: steps.map((s, i): SagaStep<unknown> => ({
      name: `s${i}`,
      attempts: 3,
      timeoutMs: 5,
      run: async (ctx) => {
        if (p.chance(crashRate)) runner?.abandon(); // the process dies here; its attempt ends as lost
        const f = failuresLeft[i]!.shift();
        if (f === 'hang') return new Promise(() => undefined);
        if (f === 'before') throw new Error('transient failure before the effect');
        if (s.permanent) throw new PermanentError('refused for good');
        const r = await add(kv, ctx, i, 1);
        if (f === 'after') throw new Error('transient failure after the effect');
        return r;
      },
      ...(s.compensable ? {
        compensate: async (ctx: StepContext<unknown>) => {
          if (p.chance(crashRate)) runner?.abandon();
          if (compFailuresLeft[i]! > 0) {
            compFailuresLeft[i]!--;
            throw new Error('compensation failed');
          }
          return add(kv, ctx, i, -1);
        },
      } : {}),
    })),
  };
  let record: SagaRecord | undefined;
  let runners = 0;
  let late = 0;
  for (let round = 0; round < 60 && record?.status !== 'done' && record?.status !== 'compensated'; round++) {
    runner = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined, backoffMs: 1, compensationAttempts: 10, storeTries: 5 }).define(definition);
    runners++;
    try {
      // Until its record exists the application starts it again; then it is resumed.
      record = kv.value(runner.recordKey('saga1')) === undefined ? await runner.start('sim', 'saga1', { seed }) : await runner.resume('saga1');
      await runner.close();
    } catch (err) {
      // A crash, or the store down for longer than the runner tries: either way, another runner takes over.
      if (!(err instanceof SagaLostError) && !(err instanceof SagaOwnedError) && (err as { code?: number }).code === undefined) throw err;
      runner.abandon();
      // The crashed runner's writes still in flight land now, and its lease runs out.
      late += kv.deliverHeld();
      for (const lease of kv.liveLeases()) kv.expire(lease);
    }
  }
  kv.fault = () => undefined;
  late += kv.deliverHeld();
  if (record === undefined) throw new Error(`seed ${seed}: the saga never started`);
  return { record, kv, scriptOf: steps, runners, late };
}

test('every saga ends done or compensated, each effect once and undone newest first, whatever fails, crashes or lands late (seeded)', async () => {
  const seen = { done: 0, compensated: 0, crashes: 0, late: 0, uncertain: 0 };
  for (let seed = 1; seed <= 300; seed++) {
    const where = `seed ${seed} (replay: this test loops over seeds 1..300)`;
    // A seed takes milliseconds; on a loaded runner, seconds at most.
    const { record, kv, scriptOf, runners, late } = await withinMs(20_000, where, simulate(seed));
    seen.crashes += runners - 1;
    seen.late += late;
    const n = record.steps.length;
    const counters = Array.from({ length: n }, (_, i) => Number(kv.value(counterKey(i)) ?? '0'));
    const ran = Array.from({ length: n }, (_, i) => kv.value(`sagas/m/saga1/s${i}`) !== undefined);
    expect([where, record.status]).toEqual([where, expect.stringMatching(/^(done|compensated)$/)]);
    // No counter ever counts an effect twice: each is 0 or 1, and 1 only with the action's marker.
    expect([where, counters.every((c) => c === 0 || c === 1)]).toEqual([where, true]);
    if (record.status === 'done') {
      seen.done++;
      expect([where, counters]).toEqual([where, Array(n).fill(1)]);
      continue;
    }
    seen.compensated++;
    if (record.steps.some((s) => s.uncertain === true)) seen.uncertain++;
    for (let i = 0; i < n; i++) {
      const expected = scriptOf[i]!.compensable ? 0 : ran[i] ? 1 : 0;
      expect([where, `s${i}`, counters[i]]).toEqual([where, `s${i}`, expected]);
    }
    // Undos newest first, and every action's effect before the first undo (markers' create revisions).
    const created = (key: string): number => Number(kv.sm.store.range({ key, rangeEnd: '', limit: 0, revision: 0, keysOnly: false, countOnly: false }).kvs[0]?.createRevision ?? 0);
    const undos = Array.from({ length: n }, (_, i) => ({ i, at: created(`sagas/m/saga1/s${i}:compensate`) })).filter((u) => u.at > 0).sort((a, b) => a.at - b.at);
    expect([where, undos.map((u) => u.i)]).toEqual([where, undos.map((u) => u.i).sort((a, b) => b - a)]);
    const lastAction = Math.max(0, ...Array.from({ length: n }, (_, i) => created(`sagas/m/saga1/s${i}`)));
    if (undos.length > 0) expect([where, lastAction < undos[0]!.at]).toEqual([where, true]);
  }
  // The seeds exercise both ends, crashes, writes landing late and uncertain failures.
  expect(seen.done).toBeGreaterThan(40);
  expect(seen.compensated).toBeGreaterThan(40);
  expect(seen.crashes).toBeGreaterThan(40);
  expect(seen.late).toBeGreaterThan(5);
  expect(seen.uncertain).toBeGreaterThan(5);
}, 120_000);

test('a runner that lost its saga cannot write its record, nor land a step\'s effect: the fence refuses both', async () => {
  const kv = new MemoryKvClient();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const steps = (wait: boolean): SagaStep<unknown>[] => [
    {
      name: 'slow',
      run: async (ctx) => {
        if (wait) await gate;
        return add(kv, ctx, 0, 1);
      },
    },
    { name: 'next', run: async () => 'ok' },
  ];
  const first = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps: steps(true) });
  const running = first.start('t', 'x', null);
  await new Promise((r) => setTimeout(r, 10));
  // Its lease ends (a long stall); another runner takes the saga over and finishes it.
  for (const lease of kv.liveLeases()) kv.expire(lease);
  const second = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps: steps(false) });
  expect((await second.start('t', 'x', null)).status).toBe('done');
  // The first wakes up: its effect and its record write are refused, and it says it lost the saga.
  release();
  await expect(running).rejects.toBeInstanceOf(SagaLostError);
  expect(kv.value(counterKey(0))).toBe('1');
  expect(JSON.parse(kv.value(first.recordKey('x'))!)).toMatchObject({ status: 'done', steps: [{ name: 'slow', output: 1 }, { name: 'next', output: 'ok' }] });
  await first.close();
  await second.close();
});

test('two runners starting the same saga: one drives it, the other is told; a finished saga is not run again', async () => {
  const kv = new MemoryKvClient();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const def = { type: 't', steps: [{ name: 'a', run: async () => gate }] };
  const a = new SagaRunner(kvSagaStore(kv)).define(def);
  const b = new SagaRunner(kvSagaStore(kv)).define(def);
  const first = a.start('t', 'y', null);
  await new Promise((r) => setTimeout(r, 10));
  await expect(b.start('t', 'y', null)).rejects.toThrow('saga y is driven by another runner');
  await expect(a.start('t', 'y', null)).rejects.toThrow('saga y is being driven by this runner');
  release();
  expect((await first).status).toBe('done');
  expect((await b.start('t', 'y', null)).status).toBe('done');
  await expect(b.start('t', 'y', { other: 1 })).rejects.toThrow('not started again with other ones');
  await expect(b.start('other', 'y', null)).rejects.toThrow('no saga type other is defined');
  // A definition whose steps differ from the record's is refused, not run.
  const changed = new SagaRunner(kvSagaStore(kv)).define({ type: 't', steps: [{ name: 'a2', run: async () => 1 }] });
  await expect(changed.start('t', 'y', null)).rejects.toThrow('was recorded with steps a; this runner\'s t has a2');
  expect(() => changed.define({ type: 'u', steps: [{ name: 'a/b', run: async () => 1 }] })).toThrow('must be letters, digits');
  // Idle runners hold no lease.
  for (const r of [a, b, changed]) await r.close();
  expect(kv.liveLeases()).toEqual([]);
});

test('a stuck saga waits for an operator, and resumes to compensated', async () => {
  const kv = new MemoryKvClient();
  let broken = true;
  const runner = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined, compensationAttempts: 2 }).define({
    type: 't',
    steps: [
      { name: 'a', run: (ctx) => add(kv, ctx, 0, 1), compensate: async (ctx) => (broken ? Promise.reject(new Error('payments down')) : add(kv, ctx, 0, -1)) },
      { name: 'b', run: async () => Promise.reject(new PermanentError('no stock')) },
    ],
  });
  const stuck = await runner.start('t', 'z', null);
  expect(stuck).toMatchObject({ status: 'stuck', steps: [{ state: 'compensating', compensationAttempts: 2, error: 'payments down' }, { state: 'failed' }] });
  expect((await runner.resumeAbandoned()).resumed).toEqual([]); // stuck is not abandoned: an operator resumes it
  broken = false;
  expect((await runner.resume('z')).status).toBe('compensated');
  expect(kv.value(counterKey(0))).toBe('0');
  await runner.close();
});

test('prune deletes finished sagas with their markers, leaves the others, and a stalled attempt of a pruned saga still cannot land', async () => {
  const kv = new MemoryKvClient();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let hold = true;
  const steps: SagaStep<unknown>[] = [
    {
      name: 'one',
      run: async (ctx) => {
        if (hold && ctx.sagaId === 'stalled') await gate;
        return add(kv, ctx, ctx.sagaId === 'stalled' ? 1 : 0, 1);
      },
    },
    { name: 'two', run: async () => 'ok' },
  ];
  const a = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps });
  expect((await a.start('t', 'finished', null)).status).toBe('done');
  expect(kv.value('sagas/m/finished/one')).toBeDefined();
  const stalled = a.start('t', 'stalled', null);
  await new Promise((r) => setTimeout(r, 10));
  // The stalled runner's lease ends; another runner finishes the saga, and then it is pruned.
  for (const lease of kv.liveLeases()) kv.expire(lease);
  hold = false;
  const b = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps });
  expect((await b.resume('stalled')).status).toBe('done');
  expect(await b.prune(Date.now() + 1000)).toBe(2);
  expect([kv.value(b.recordKey('finished')), kv.value(b.recordKey('stalled')), kv.value('sagas/m/finished/one'), kv.value('sagas/m/stalled/one')]).toEqual([undefined, undefined, undefined, undefined]);
  // The stalled attempt wakes: no marker any more, but its fence names a record that is gone.
  release();
  await expect(stalled).rejects.toBeInstanceOf(SagaLostError);
  expect(kv.value(counterKey(1))).toBe('1');
  // A saga under way, or finished after the cut-off, is left.
  const c = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps });
  expect((await c.start('t', 'recent', null)).status).toBe('done');
  expect(await c.prune(Date.now() - 60_000)).toBe(0);
  for (const r of [a, b, c]) await r.close();
});

test('a saga of 80 steps (160 marker deletes: more than one transaction takes) is pruned whole; held by a runner, it is left', async () => {
  const kv = new MemoryKvClient();
  const steps: SagaStep<unknown>[] = Array.from({ length: 80 }, (_, i) => ({ name: `s${i}`, run: (ctx: StepContext<unknown>) => add(kv, ctx, i, 1) }));
  const runner = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 'long', steps });
  expect((await runner.start('long', 'big', null)).status).toBe('done');
  expect((await kv.kvRange('sagas/m/big/', { prefix: true })).kvs).toHaveLength(80);
  // Held by a runner (its owner key stands): nothing is deleted, not even a first batch of markers.
  const lease = await kv.leaseGrant(60_000);
  await kv.kvTxn({ compare: [], success: [kvOps.put('sagas/o/big', 'someone', { lease: lease.id })] });
  expect(await runner.prune(Date.now() + 1000)).toBe(0);
  expect((await kv.kvRange('sagas/m/big/', { prefix: true })).kvs).toHaveLength(80);
  await kv.leaseRevoke(lease.id);
  expect(await runner.prune(Date.now() + 1000)).toBe(1);
  expect([(await kv.kvRange('sagas/', { prefix: true })).kvs.map((x) => x.key), kv.value(counterKey(79))]).toEqual([[], '1']);
  await runner.close();
});

test('maintain resumes an abandoned saga once its runner\'s lease ends, prunes finished ones past their age, reports each round, and stops', async () => {
  const kv = new MemoryKvClient();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const steps = (wait: boolean): SagaStep<unknown>[] => [
    { name: 'one', run: (ctx) => add(kv, ctx, 0, 1) },
    {
      name: 'two',
      run: async () => {
        if (wait) await gate;
        return 'ok';
      },
    },
  ];
  let clock = 1_000_000;
  const crashed = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined, now: () => clock }).define({ type: 't', steps: steps(true) });
  const lost = crashed.start('t', 'left', null).catch((err: unknown) => err);
  await new Promise((r) => setTimeout(r, 10));
  crashed.abandon(); // dies in step two, its lease still live
  release();
  const rounds: MaintenanceRound[] = [];
  let wake: () => void = () => undefined;
  const keeper = new SagaRunner(kvSagaStore(kv), {
    now: () => clock,
    // The maintenance wait: one round per call of `wake`; step retries pass at once.
    sleep: (ms) => (ms === 5000 ? new Promise<void>((r) => (wake = r)) : Promise.resolve()),
  }).define({ type: 't', steps: steps(false) });
  const stop = keeper.maintain({ everyMs: 5000, pruneAfterMs: 60_000, onRound: (r) => rounds.push(r) });
  const nextRound = async (): Promise<MaintenanceRound> => {
    const n = rounds.length;
    wake();
    while (rounds.length === n) await new Promise((r) => setTimeout(r, 1));
    return rounds[n]!;
  };
  while (rounds.length === 0) await new Promise((r) => setTimeout(r, 1));
  // Held by the dead runner's lease: left alone.
  expect(rounds[0]).toMatchObject({ resumed: [], failed: [], pruned: 0 });
  for (const lease of kv.liveLeases()) kv.expire(lease);
  expect(await nextRound()).toMatchObject({ resumed: [{ id: 'left', status: 'done' }], pruned: 0 });
  expect(kv.value(counterKey(0))).toBe('1');
  expect(await lost).toBeInstanceOf(SagaLostError);
  // Finished, but not long enough ago; then old enough: pruned.
  expect(await nextRound()).toMatchObject({ resumed: [], pruned: 0 });
  clock += 61_000;
  expect(await nextRound()).toMatchObject({ resumed: [], pruned: 1 });
  expect(kv.value(keeper.recordKey('left'))).toBeUndefined();
  // A round whose store fails is reported; the next runs.
  const list = kv.kvRange.bind(kv);
  kv.kvRange = () => Promise.reject(new Error('store unreachable'));
  expect((await nextRound()).error).toMatchObject({ message: 'store unreachable' });
  kv.kvRange = list;
  expect(await nextRound()).toMatchObject({ resumed: [], failed: [], pruned: 0 });
  stop();
  wake();
  await new Promise((r) => setTimeout(r, 20));
  const n = rounds.length;
  wake();
  await new Promise((r) => setTimeout(r, 20));
  expect(rounds.length).toBe(n);
  await keeper.close();
  await crashed.close();
});

test('maintain survives a throwing listener, leaves no timer behind once closed, refuses a stopped runner; sagas a live runner holds are not even tried', async () => {
  const kv = new MemoryKvClient();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const def = { type: 't', steps: [{ name: 'a', run: async () => gate }] };
  const holder = new SagaRunner(kvSagaStore(kv)).define(def);
  const held = holder.start('t', 'held', null);
  await new Promise((r) => setTimeout(r, 10));
  // Another runner's rounds, on real timers: the held saga costs it no lease grant.
  const keeper = new SagaRunner(kvSagaStore(kv)).define(def);
  const grants = jest.spyOn(kv, 'leaseGrant');
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const timersBefore = timers();
  let rounds = 0;
  keeper.maintain({ everyMs: 20, onRound: () => {
    rounds++;
    throw new Error('a listener that fails');
  } });
  while (rounds < 3) await new Promise((r) => setTimeout(r, 5));
  const tried = grants.mock.calls.length;
  await keeper.close(); // first, so a failure below leaves nothing running
  release();
  expect(tried).toBe(0);
  // The holder's timers come and go (none while a renewal is in flight): give them a moment to
  // settle; a timer the keeper left behind stays.
  for (let i = 0; i < 40 && timers() > timersBefore; i++) await new Promise((r) => setTimeout(r, 5));
  expect(timers()).toBeLessThanOrEqual(timersBefore);
  expect(() => keeper.maintain()).toThrow('the saga runner is stopped');
  expect((await held).status).toBe('done');
  await holder.close();
  grants.mockRestore();
});

test('abandoned sagas are resumed several at once: one that hangs does not hold up the others', async () => {
  const kv = new MemoryKvClient();
  const never = new Promise<void>(() => undefined);
  let release: () => void = () => undefined;
  const slow = new Promise<void>((r) => (release = r));
  const steps = (wait: (id: string) => Promise<void>): SagaStep<unknown>[] => [
    { name: 'one', run: (ctx) => add(kv, ctx, ctx.sagaId === 'a-slow' ? 0 : 1, 1) },
    { name: 'two', run: async (ctx) => wait(ctx.sagaId) },
  ];
  const crashed = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps: steps(() => never) });
  const lost = [crashed.start('t', 'a-slow', null).catch(() => undefined), crashed.start('t', 'b-quick', null).catch(() => undefined)];
  await new Promise((r) => setTimeout(r, 10));
  crashed.abandon();
  for (const lease of kv.liveLeases()) kv.expire(lease);
  const keeper = new SagaRunner(kvSagaStore(kv), { sleep: async () => undefined }).define({ type: 't', steps: steps((id) => (id === 'a-slow' ? slow : Promise.resolve())) });
  const round = keeper.resumeAbandoned();
  // a-slow comes first and hangs; b-quick is done meanwhile.
  for (let i = 0; i < 200 && JSON.parse(kv.value(keeper.recordKey('b-quick')) ?? '{}').status !== 'done'; i++) await new Promise((r) => setTimeout(r, 5));
  expect(JSON.parse(kv.value(keeper.recordKey('b-quick'))!)).toMatchObject({ status: 'done' });
  expect(JSON.parse(kv.value(keeper.recordKey('a-slow'))!)).toMatchObject({ status: 'running' });
  release();
  expect((await round).resumed.map((r) => [r.id, r.status]).sort()).toEqual([['a-slow', 'done'], ['b-quick', 'done']]);
  await Promise.all(lost);
  await keeper.close();
});
