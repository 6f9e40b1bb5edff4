// A saga's record changes only as its state allows: steps in order, compensation newest first,
// retries counted, stuck until resumed; an event that does not fit is refused, not applied.
import { applySagaEvent, newSagaRecord, nextAction, type SagaEvent, type SagaRecord } from '../../../clients/client/saga/SagaRecord';

const apply = (r: SagaRecord, ...events: SagaEvent[]): SagaRecord => events.reduce((x, e) => applySagaEvent(x, e, 5), r);
const fresh = (): SagaRecord => newSagaRecord('s', 'order', ['reserve', 'charge', 'ship'], { qty: 1 }, 1);

test('forward: steps in order, each started before it is done; the last done ends the saga', () => {
  let r = fresh();
  expect(nextAction(r)).toEqual({ type: 'run', step: 0 });
  r = apply(r, { type: 'step-started', step: 0 }, { type: 'step-done', step: 0, output: { hold: 7 } });
  expect(r.steps[0]).toMatchObject({ state: 'done', attempts: 1, output: { hold: 7 } });
  expect(() => apply(r, { type: 'step-started', step: 2 })).toThrow('step-started for step 2 does not fit its record (not the next step to run; status running)');
  expect(() => apply(r, { type: 'step-done', step: 1, output: null })).toThrow('the step is not running');
  // A transient failure leaves the step to run again, counting attempts; a crash (started, never done) too.
  r = apply(r, { type: 'step-started', step: 1 }, { type: 'step-failed', step: 1, error: 'timeout', final: false }, { type: 'step-started', step: 1 }, { type: 'step-started', step: 1 });
  expect(r.steps[1]).toMatchObject({ state: 'running', attempts: 3, error: 'timeout' });
  r = apply(r, { type: 'step-done', step: 1, output: null }, { type: 'step-started', step: 2 }, { type: 'step-done', step: 2, output: 'x' });
  expect(r.status).toBe('done');
  expect(nextAction(r)).toEqual({ type: 'none' });
});

test('a step failing for good turns the saga to compensating the steps done, newest first', () => {
  let r = apply(fresh(), { type: 'step-started', step: 0 }, { type: 'step-done', step: 0, output: 1 }, { type: 'step-started', step: 1 }, { type: 'step-done', step: 1, output: 2 }, { type: 'step-started', step: 2 }, { type: 'step-failed', step: 2, error: 'no stock', final: true });
  expect(r).toMatchObject({ status: 'compensating', reason: 'step ship failed: no stock' });
  expect(nextAction(r)).toEqual({ type: 'compensate', step: 1 });
  expect(() => apply(r, { type: 'compensation-started', step: 0 })).toThrow('not the next step to compensate');
  r = apply(r, { type: 'compensation-started', step: 1 }, { type: 'compensation-failed', step: 1, error: 'busy', final: false }, { type: 'compensation-started', step: 1 }, { type: 'compensation-done', step: 1 });
  expect(r.steps[1]).toMatchObject({ state: 'compensated', compensationAttempts: 2 });
  r = apply(r, { type: 'compensation-skipped', step: 0 });
  expect(r.status).toBe('compensated');
  expect(r.steps.map((s) => s.state)).toEqual(['not-compensated', 'compensated', 'failed']);
});

test('a compensation failing for good leaves the saga stuck until an operator resumes it', () => {
  let r = apply(fresh(), { type: 'step-started', step: 0 }, { type: 'step-done', step: 0, output: 1 }, { type: 'step-started', step: 1 }, { type: 'step-failed', step: 1, error: 'refused', final: true });
  r = apply(r, { type: 'compensation-started', step: 0 }, { type: 'compensation-failed', step: 0, error: 'down', final: true });
  expect(r.status).toBe('stuck');
  expect(nextAction(r)).toEqual({ type: 'none' });
  r = apply(r, { type: 'resumed' });
  expect(r).toMatchObject({ status: 'compensating', steps: [{ state: 'compensating', compensationAttempts: 0 }, { state: 'failed' }, { state: 'pending' }] });
  expect(() => apply(r, { type: 'resumed' })).toThrow('only a stuck saga is resumed');
  // The first step failing for good: nothing to undo.
  expect(apply(fresh(), { type: 'step-started', step: 0 }, { type: 'step-failed', step: 0, error: 'no', final: true }).status).toBe('compensated');
  expect(() => newSagaRecord('s', 't', ['a', 'a'], null, 0)).toThrow('names a step twice');
  expect(() => newSagaRecord('s', 't', [], null, 0)).toThrow('has no steps');
});
