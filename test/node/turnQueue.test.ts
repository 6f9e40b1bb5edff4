// TurnQueue: heavy steps one at a time, each after a yield to pending I/O; answers to peers go
// before applies, each kind in the order queued; a failing step rejects its own promise only.
import { TurnPriority, TurnQueue } from '../../services/node/TurnQueue';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('answers queued after applies still run first; each kind keeps its order; a yield before every step', async () => {
  const log: string[] = [];
  const q = new TurnQueue(async () => {
    log.push('yield');
    await nextTurn();
  });
  const step = (name: string) => (): string => {
    log.push(name);
    return name;
  };
  const runs = [
    q.run(step('apply 1'), 'apply'),
    q.run(step('apply 2'), 'apply'),
    q.run(step('answer 1'), 'answer'),
    q.run(step('answer 2'), 'answer'),
  ];
  expect(q.queued).toBe(4);
  expect(await Promise.all(runs)).toEqual(['apply 1', 'apply 2', 'answer 1', 'answer 2']);
  expect(log).toEqual(['yield', 'answer 1', 'yield', 'answer 2', 'yield', 'apply 1', 'yield', 'apply 2']);
  expect(q.queued).toBe(0);
});

test('an answer queued while an apply waits for its turn overtakes it; a failing step does not stop the next', async () => {
  const log: string[] = [];
  let onYield: (() => void) | undefined;
  const q = new TurnQueue(async () => {
    await nextTurn();
    const f = onYield;
    onYield = undefined;
    f?.();
  });
  const fail = (): never => {
    log.push('apply 1 (throws)');
    throw new Error('malformed diff');
  };
  const first = q.run(fail, 'apply');
  const second = q.run(() => log.push('apply 2'), 'apply');
  let answered: Promise<number> | undefined;
  // During the yield before the first step, a peer's request arrives.
  onYield = () => {
    answered = q.run(() => log.push('answer'), 'answer');
  };
  await expect(first).rejects.toThrow('malformed diff');
  await second;
  await answered;
  expect(log).toEqual(['answer', 'apply 1 (throws)', 'apply 2']);
});

test('a queue that ran dry starts again on the next step', async () => {
  const q = new TurnQueue(nextTurn);
  const kinds: TurnPriority[] = ['apply', 'answer', 'apply'];
  const out: string[] = [];
  for (const [i, k] of kinds.entries()) out.push(await q.run(() => `${k} ${i}`, k));
  expect(out).toEqual(['apply 0', 'answer 1', 'apply 2']);
});

test('a yield that fails costs the step its wait, not its run', async () => {
  let calls = 0;
  const q = new TurnQueue(async () => {
    calls++;
    if (calls === 1) throw new Error('no turn');
    await nextTurn();
  });
  expect(await Promise.all([q.run(() => 'first', 'apply'), q.run(() => 'second', 'answer')])).toEqual(['first', 'second']);
  expect(calls).toBe(2);
}, 5_000);
