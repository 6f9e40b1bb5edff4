// Proves, over seeded random histories, that checkLinearizable accepts every history generated
// from a sequential execution (with overlapping intervals and unknown outcomes), returns a valid
// witness order for it, rejects it once one read is changed to an impossible output, and agrees
// with a brute-force oracle on small histories. Failures list their seeds; CHECKER_SEED=n replays
// one seed.

import { bruteForceLinearizable } from './bruteForceLinearizable';
import { counterModel, type CounterInput, type CounterOutput } from './counterModel';
import { generateHistory, type GenerateOptions, type SequentialSpec } from './generateHistory';
import { checkLinearizable, type CheckResult, type Model, type Operation } from './linearizability';
import { makePrng, type Prng } from '../prng';
import { counterBounds, counterSpec, kvSpec } from './randomSpecs';
import { registerModel, type KvInput, type KvOutput } from './registerModel';

const onlySeed = process.env.CHECKER_SEED === undefined ? undefined : Number(process.env.CHECKER_SEED);
const seeds = (count: number, base: number): number[] =>
  onlySeed !== undefined ? [onlySeed] : Array.from({ length: count }, (_, i) => base + i);

function generate<S, I, O>(spec: SequentialSpec<S, I, O>, seed: number, opts: GenerateOptions): Operation<I, O>[] {
  return generateHistory(spec, makePrng(seed), opts);
}

/** Why a claimed witness is not one, or null when it is. */
function witnessProblem<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], check: CheckResult<I, O>): string | null {
  if (check.result !== 'ok') return `result ${check.result}`;
  const seen = new Set<Operation<I, O>>();
  for (const order of check.linearizations) {
    let state = model.init();
    for (const [i, op] of order.entries()) {
      const [ok, next] = model.step(state, op.input, op.output);
      if (!ok) return `step ${i} rejected`;
      state = next;
      if (order.slice(0, i).some((earlier) => op.return < earlier.call)) return `step ${i} goes back in time`;
      seen.add(op);
    }
  }
  return seen.size === history.length && history.every((op) => seen.has(op)) ? null : 'not every operation appears once';
}

/** Replaces the output of one completed read, chosen at random; null when there is none. */
function mutateOneRead<I, O>(
  history: readonly Operation<I, O>[],
  prng: Prng,
  isRead: (op: Operation<I, O>) => boolean,
  impossible: (op: Operation<I, O>) => O,
): Operation<I, O>[] | null {
  const reads = history.map((op, i) => ({ op, i })).filter(({ op }) => op.output !== 'unknown' && isRead(op));
  if (reads.length === 0) return null;
  const { op, i } = prng.pick(reads);
  return history.map((other, j) => (j === i ? { ...op, output: impossible(op) } : other));
}

const kvRead = (op: Operation<KvInput, KvOutput>): boolean => op.input.kind === 'get';
const counterRead = (op: Operation<CounterInput, CounterOutput>): boolean => op.input.kind === 'read';

describe('checkLinearizable on random histories', () => {
  it('accepts generated KV histories and returns a valid witness', () => {
    const failures: { seed: number; problem: string }[] = [];
    for (const seed of seeds(60, 1000)) {
      const history = generate(kvSpec({ keys: 3 }), seed, { ops: 150, clients: 5, unknownChance: 0.02 });
      const problem = witnessProblem(registerModel, history, checkLinearizable(registerModel, history));
      if (problem !== null) failures.push({ seed, problem });
    }
    expect(failures).toEqual([]);
  });

  it('accepts generated KV histories without partitioning, on a small value domain', () => {
    const unpartitioned = { ...registerModel, partition: undefined };
    const failures: { seed: number; problem: string }[] = [];
    for (const seed of seeds(30, 2000)) {
      const history = generate(kvSpec({ keys: 2, valueDomain: 3 }), seed, { ops: 60, clients: 4, unknownChance: 0.05 });
      const problem = witnessProblem(unpartitioned, history, checkLinearizable(unpartitioned, history));
      if (problem !== null) failures.push({ seed, problem });
    }
    expect(failures).toEqual([]);
  });

  it('accepts generated counter histories', () => {
    const failures: { seed: number; problem: string }[] = [];
    for (const seed of seeds(40, 3000)) {
      const history = generate(counterSpec(2), seed, { ops: 120, clients: 5, unknownChance: 0.02 });
      const problem = witnessProblem(counterModel, history, checkLinearizable(counterModel, history));
      if (problem !== null) failures.push({ seed, problem });
    }
    expect(failures).toEqual([]);
  });

  it('rejects a KV history once one read returns a value never written or a revision never reached', () => {
    const failures: { seed: number; result: string }[] = [];
    for (const seed of seeds(40, 4000)) {
      const prng = makePrng(seed);
      const history = generate(kvSpec({ keys: 3 }), seed, { ops: 150, clients: 5, unknownChance: 0.02 });
      const wrongValue = mutateOneRead(history, prng, kvRead, () => ({ kind: 'get' as const, value: 'never-written' }));
      const wrongRevision = mutateOneRead(history, prng, kvRead, (op) => ({
        kind: 'get' as const,
        value: op.output !== 'unknown' && op.output.kind === 'get' ? op.output.value : null,
        modRevision: 1_000,
      }));
      for (const mutated of [wrongValue, wrongRevision]) {
        const result = mutated === null ? 'no read to mutate' : checkLinearizable(registerModel, mutated).result;
        if (result !== 'illegal') failures.push({ seed, result });
      }
    }
    expect(failures).toEqual([]);
  });

  it('rejects a counter history once one read returns a value beyond the bounds', () => {
    const failures: { seed: number; result: string }[] = [];
    for (const seed of seeds(40, 5000)) {
      const history = generate(counterSpec(2), seed, { ops: 120, clients: 5, unknownChance: 0.02 });
      const value = makePrng(seed).chance(0.5) ? counterBounds.ceiling + 1 : counterBounds.floor - 1;
      const mutated = mutateOneRead(history, makePrng(seed), counterRead, () => ({ kind: 'read' as const, value }));
      const result = mutated === null ? 'no read to mutate' : checkLinearizable(counterModel, mutated).result;
      if (result !== 'illegal') failures.push({ seed, result });
    }
    expect(failures).toEqual([]);
  });

  it('agrees with a brute-force oracle on small, sometimes corrupted histories', () => {
    const failures: { seed: number; checker: string; oracle: string }[] = [];
    const tally = { ok: 0, illegal: 0 };
    for (const seed of seeds(600, 6000)) {
      const prng = makePrng(seed);
      const history = generate(kvSpec({ keys: 1, valueDomain: 2 }), seed, { ops: 3 + prng.int(5), clients: 1 + prng.int(4), unknownChance: 0.1 });
      const candidate = prng.chance(0.6) ? corruptOne(history, prng) : history;
      const checker = checkLinearizable(registerModel, candidate).result;
      const oracle = bruteForceLinearizable(registerModel, candidate) ? 'ok' : 'illegal';
      if (checker === 'ok' || checker === 'illegal') tally[checker]++;
      if (checker !== oracle) failures.push({ seed, checker, oracle });
    }
    expect(failures).toEqual([]);
    if (onlySeed === undefined) {
      expect(tally.ok).toBeGreaterThan(100);
      expect(tally.illegal).toBeGreaterThan(100);
    }
  });
});

/** Replaces one completed operation's output with a random output of the same kind. */
function corruptOne(history: readonly Operation<KvInput, KvOutput>[], prng: Prng): Operation<KvInput, KvOutput>[] {
  const index = prng.int(history.length);
  return history.map((op, i) => {
    if (i !== index || op.output === 'unknown') return op;
    const revision = prng.chance(0.5) ? { modRevision: prng.int(4) } : {};
    switch (op.output.kind) {
      case 'get':
        return { ...op, output: { kind: 'get', value: prng.pick([null, 'v0', 'v1']), ...revision } };
      case 'put':
        return { ...op, output: { kind: 'put', ...revision } };
      case 'delete':
        return { ...op, output: { kind: 'delete', deleted: prng.chance(0.5) } };
      case 'cas':
        return { ...op, output: { kind: 'cas', succeeded: prng.chance(0.5), ...revision } };
    }
  });
}
