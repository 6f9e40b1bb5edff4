// Seeded simulation of sagas under failures and crashes, on the in-memory store: steps fail
// (for a while, or for good), runners crash before or after a step's effect (mid-compensation
// too) and another runner resumes once the crashed one's lease has ended. Whatever happens,
// every saga ends done (every effect once, nothing undone) or compensated (every effect that
// took place undone once, newest first, nothing run after the first undo), and no runner ever
// acts on a saga after another took it over. A seed that fails prints itself.
import { SagaLostError, SagaRunner, type SagaStep } from '../../../clients/client/saga/SagaRunner';
import type { SagaRecord } from '../../../clients/client/saga/SagaRecord';
import { makePrng, type Prng } from '../../sim/prng';
import { MemorySagaStore } from './MemorySagaStore';

interface World {
  /** Effects that took place, in order: `<saga>/<step>` and `<saga>/<step>/undo`. */
  readonly log: string[];
  readonly done: Set<string>;
}

/** A crash of the runner driving the step, at this point of it. */
type Crash = 'before-effect' | 'after-effect' | undefined;

function plan(p: Prng, steps: number) {
  return Array.from({ length: steps }, () => ({
    transientFailures: p.chance(0.3) ? p.int(3) : 0,
    permanent: p.chance(0.12),
    crash: (p.chance(0.15) ? p.pick(['before-effect', 'after-effect']) : undefined) as Crash,
    compensationFailures: p.chance(0.3) ? p.int(4) : 0,
    compensationCrash: (p.chance(0.15) ? p.pick(['before-effect', 'after-effect']) : undefined) as Crash,
    compensable: p.chance(0.85),
  }));
}

async function simulate(seed: number): Promise<{ record: SagaRecord; world: World; runners: number; store: MemorySagaStore; compensable: boolean[] }> {
  const p = makePrng(seed);
  const steps = 1 + p.int(5);
  const script = plan(p, steps);
  const world: World = { log: [], done: new Set() };
  const store = new MemorySagaStore();
  let current: SagaRunner | undefined;
  const runnerOf = new Map<SagaRunner, bigint>();
  const dead = new Set<SagaRunner>();
  /** Runs the effect `key` once (idempotent and atomic), with the scripted failures and crash. */
  const effect = (key: string, who: SagaRunner, failures: { left: number }, permanent: boolean, crash: { at: Crash }): Promise<unknown> => {
    if (dead.has(who)) throw new Error(`seed ${seed}: a crashed runner acted on ${key}`);
    if (world.done.has(key)) return Promise.resolve({ key }); // a repeat: no effect, the same answer
    const crashNow = (): Promise<never> => {
      crash.at = undefined; // once
      dead.add(who);
      who.abandon();
      return new Promise<never>(() => undefined); // the process is gone: this attempt never answers
    };
    if (crash.at === 'before-effect') return crashNow();
    if (failures.left > 0) {
      failures.left--;
      throw new Error('transient failure');
    }
    if (permanent) throw Object.assign(new Error('refused for good'), { permanentFailure: true });
    world.done.add(key);
    world.log.push(key);
    if (crash.at === 'after-effect') return crashNow();
    return Promise.resolve({ key });
  };
  const state = script.map((s) => ({ failures: { left: s.transientFailures }, compFailures: { left: s.compensationFailures }, crash: { at: s.crash }, compCrash: { at: s.compensationCrash } }));
  const defineOn = (runner: SagaRunner): SagaRunner => runner.define<{ n: number }>({
    type: 'sim',
    steps: script.map((s, i): SagaStep<{ n: number }> => ({
      name: `s${i}`,
      attempts: 3,
      run: async (ctx) => effect(ctx.idempotencyKey, runner, state[i]!.failures, s.permanent, state[i]!.crash),
      ...(s.compensable ? {
        compensate: async (ctx) => {
          if (ctx.outputs[`s${i}`] === undefined) throw new Error(`seed ${seed}: compensation of s${i} without its output`);
          await effect(`${ctx.idempotencyKey.replace(/\/compensate$/, '')}/undo`, runner, state[i]!.compFailures, false, state[i]!.compCrash);
        },
      } : {}),
    })),
  });
  const newRunner = (): SagaRunner => {
    const r = defineOn(new SagaRunner(store, { sleep: async () => undefined, compensationAttempts: 10, isPermanent: (e) => (e as { permanentFailure?: boolean }).permanentFailure === true }));
    current = r;
    return r;
  };
  let runners = 0;
  let record: SagaRecord | undefined;
  for (let round = 0; round < 20 && record === undefined; round++) {
    const r = newRunner();
    runners++;
    try {
      record = round === 0 ? await r.start('sim', 'saga1', { n: 1 }) : await r.resume('saga1');
    } catch (err) {
      if (!(err instanceof SagaLostError)) throw err;
      // Crashed: its lease ends after its TTL, and the next runner takes over.
      for (const lease of store.liveLeases()) store.expire(lease);
      runnerOf.set(r, 0n);
    }
  }
  if (record === undefined || current === undefined) throw new Error(`seed ${seed}: no end after 20 runners`);
  await current.close();
  return { record, world, runners, store, compensable: script.map((s) => s.compensable) };
}

test('every saga ends done or compensated, each effect once and undone newest first, whatever fails or crashes (seeded)', async () => {
  const outcomes = { done: 0, compensated: 0, crashes: 0 };
  for (let seed = 1; seed <= 400; seed++) {
    const where = `seed ${seed} (replay: this test loops over seeds 1..400)`;
    const { record, world, runners, compensable } = await simulate(seed);
    const n = record.steps.length;
    const did = (i: number): boolean => world.done.has(`saga1/s${i}`);
    const undid = (i: number): boolean => world.done.has(`saga1/s${i}/undo`);
    outcomes.crashes += runners - 1;
    expect([where, record.status === 'done' || record.status === 'compensated']).toEqual([where, true]);
    if (record.status === 'done') {
      outcomes.done++;
      expect([where, Array.from({ length: n }, (_, i) => did(i) && !undid(i))]).toEqual([where, Array(n).fill(true)]);
    } else {
      outcomes.compensated++;
      // Every effect that took place is undone (unless its step has no compensation), nothing else.
      for (let i = 0; i < n; i++) expect([where, i, undid(i)]).toEqual([where, i, did(i) && compensable[i]]);
      // Newest first, and no step ran after the first undo.
      const undos = world.log.filter((k) => k.endsWith('/undo')).map((k) => Number(/s(\d+)/.exec(k)![1]));
      expect([where, undos]).toEqual([where, [...undos].sort((a, b) => b - a)]);
      const firstUndo = world.log.findIndex((k) => k.endsWith('/undo'));
      if (firstUndo >= 0) expect([where, world.log.slice(firstUndo).every((k) => k.endsWith('/undo'))]).toEqual([where, true]);
    }
    expect([where, world.log.length]).toEqual([where, new Set(world.log).size]);
  }
  // The seeds exercise both ends and crashes.
  expect(outcomes.done).toBeGreaterThan(50);
  expect(outcomes.compensated).toBeGreaterThan(50);
  expect(outcomes.crashes).toBeGreaterThan(50);
});

test('a runner that lost its saga cannot write it any more: the fence refuses it', async () => {
  const store = new MemorySagaStore();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const steps: SagaStep<null>[] = [{ name: 'slow', run: async () => gate }, { name: 'next', run: async () => 'ok' }];
  const first = new SagaRunner(store, { sleep: async () => undefined }).define({ type: 't', steps });
  const running = first.start('t', 'x', null);
  await new Promise((r) => setTimeout(r, 10));
  // Its lease ends (a long stall); another runner takes the saga over and finishes it.
  for (const lease of store.liveLeases()) store.expire(lease);
  const second = new SagaRunner(store, { sleep: async () => undefined }).define({ type: 't', steps: [{ name: 'slow', run: async () => 'again' }, { name: 'next', run: async () => 'ok' }] });
  expect((await second.start('t', 'x', null)).status).toBe('done');
  // The first wakes up: its write is refused, and it says it lost the saga.
  release();
  await expect(running).rejects.toBeInstanceOf(SagaLostError);
  expect(store.fencedWrites).toBe(1);
  expect(JSON.parse((await store.read(first.recordKey('x')))!.value)).toMatchObject({ status: 'done', steps: [{ name: 'slow', output: 'again' }, { name: 'next', output: 'ok' }] });
  await first.close();
  await second.close();
});

test('the fence is the owner key: a runner whose lease ended cannot write even a record nobody else wrote yet', async () => {
  const store = new MemorySagaStore();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const runner = new SagaRunner(store, { sleep: async () => undefined }).define({ type: 't', steps: [{ name: 'slow', run: async () => gate }] });
  const running = runner.start('t', 'z', null);
  await new Promise((r) => setTimeout(r, 10));
  for (const lease of store.liveLeases()) store.expire(lease);
  // Another runner has claimed the saga but not written its record yet.
  expect(await store.claim('sagas/o/z', 'other', await store.leaseGrant())).toBe(true);
  release();
  await expect(running).rejects.toBeInstanceOf(SagaLostError);
  expect(JSON.parse((await store.read(runner.recordKey('z')))!.value)).toMatchObject({ status: 'running', steps: [{ state: 'running' }] });
  await runner.close();
});

test('two runners starting the same saga: one drives it, the other is told', async () => {
  const store = new MemorySagaStore();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const def = { type: 't', steps: [{ name: 'a', run: async () => gate }] };
  const a = new SagaRunner(store).define(def);
  const b = new SagaRunner(store).define(def);
  const first = a.start('t', 'y', null);
  await new Promise((r) => setTimeout(r, 10));
  await expect(b.start('t', 'y', null)).rejects.toThrow('saga y is driven by another runner');
  release();
  expect((await first).status).toBe('done');
  // Once it is done, starting it again returns the finished record (nothing runs twice).
  expect((await b.start('t', 'y', null)).status).toBe('done');
  await expect(b.start('other', 'y', null)).rejects.toThrow('no saga type other is defined');
  await a.close();
  await b.close();
});
