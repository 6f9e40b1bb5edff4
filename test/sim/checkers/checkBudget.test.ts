// Proves that per-key partitioning and the state cache keep a large history (10 keys x 500 ops,
// 8 concurrent clients, some unknown outcomes) well within the budget, legal or corrupted, and
// that a history whose search explodes yields 'timeout', distinct from 'ok' and 'illegal', when
// the step or time budget runs out.

import { generateHistory } from './generateHistory';
import { kvOps, type KvOp } from './kvOps';
import { checkLinearizable } from './linearizability';
import { makePrng } from '../prng';
import { kvSpec } from './randomSpecs';
import { registerModel } from './registerModel';

const { get, put } = kvOps;
const budget = { timeoutMs: 20_000 };

/** Writes of distinct values all overlapping a read of a value none of them wrote: every subset
 * of the writes is a distinct state, so the search must visit about 2^writes of them. */
function pathological(key: string, writes: number): KvOp[] {
  const history = Array.from({ length: writes }, (_, i) => put(i, key, `w${i}`, 0, 100));
  return [...history, get(writes, key, 'never-written', 0, 100)];
}

describe('checkLinearizable budget', () => {
  it.each([11, 12])('checks 10 keys x 500 ops with 8 clients within the budget (seed %i)', (seed) => {
    const history = generateHistory(kvSpec({ keys: 10 }), makePrng(seed), { ops: 5_000, clients: 8, unknownChance: 0.01 });
    const check = checkLinearizable(registerModel, history, budget);
    expect({ seed, result: check.result, partitions: check.partitions }).toEqual({ seed, result: 'ok', partitions: 10 });
    expect(check.elapsedMs).toBeLessThan(budget.timeoutMs / 4);

    const prng = makePrng(seed);
    const reads = history.map((op, i) => ({ op, i })).filter(({ op }) => op.input.kind === 'get' && op.output !== 'unknown');
    const target = reads[reads.length - 1 - prng.int(50)];
    if (target === undefined) throw new Error(`seed ${seed}: no read`);
    const corrupted = history.map((op, i) => (i === target.i ? { ...op, output: { kind: 'get' as const, value: 'never-written' } } : op));
    const verdict = checkLinearizable(registerModel, corrupted, budget);
    expect({ seed, result: verdict.result }).toEqual({ seed, result: 'illegal' });
  });

  it('checks a single key with 500 ops and 8 clients without partitioning', () => {
    const seed = 21;
    const history = generateHistory(kvSpec({ keys: 1, valueDomain: 3 }), makePrng(seed), { ops: 500, clients: 8, unknownChance: 0.01 });
    const check = checkLinearizable({ ...registerModel, partition: undefined }, history, budget);
    expect({ seed, result: check.result }).toEqual({ seed, result: 'ok' });
  });

  it('times out on the step budget', () => {
    const check = checkLinearizable(registerModel, pathological('x', 24), { maxSteps: 10_000 });
    expect(check).toMatchObject({ result: 'timeout', exhausted: 'steps', steps: 10_000 });
    if (check.result === 'timeout') expect(check.explanation).toMatch(/^timeout: the steps budget ran out/);
  });

  it('times out on the time budget, read from an injected clock', () => {
    let clockMs = 0;
    const check = checkLinearizable(registerModel, pathological('x', 24), { timeoutMs: 5, now: () => clockMs++ });
    expect(check).toMatchObject({ result: 'timeout', exhausted: 'time' });
  });

  it('times out on the real clock', () => {
    const check = checkLinearizable(registerModel, pathological('x', 30), { timeoutMs: 50 });
    expect(check).toMatchObject({ result: 'timeout', exhausted: 'time' });
    expect(check.elapsedMs).toBeGreaterThanOrEqual(50);
  });

  it('finds an illegal small partition before spending the budget on an explosive one', () => {
    const staleRead = [put(90, 'a', '1', 0, 1), put(90, 'a', '2', 2, 3), get(91, 'a', '1', 4, 5)];
    const check = checkLinearizable(registerModel, [...pathological('x', 24), ...staleRead], { maxSteps: 10_000 });
    expect(check).toMatchObject({ result: 'illegal', partition: 1, partitions: 2 });
  });

  it('proves a small pathological history illegal when the budget allows', () => {
    expect(checkLinearizable(registerModel, pathological('x', 8)).result).toBe('illegal');
  });
});
