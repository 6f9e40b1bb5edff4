// The durable state of one saga, and every change a runner makes to it, as pure functions: the
// runner (SagaRunner) writes each new record to the authoritative KV store before it acts on
// it, so whichever runner resumes a saga after a crash continues from the record alone.
//
// Forward: steps run in order; a step's record says `running` before its action starts and
// `done` (with its output) after, so a crash in between runs it again (at least once: actions
// take the idempotency key and make a repeat a no-op). A step that fails is retried up to its
// attempts; then the saga turns to compensating: every step done so far is compensated, newest
// first, and so is the failed step itself unless it failed for a reason that says it took no
// effect (a permanent refusal): after a timeout or a lost answer its effect is uncertain, and
// its compensation must find out (kvOnce does, from the action's marker). Each compensation is
// retried until it succeeds or its attempts run out; the saga is then `stuck`, waiting for an
// operator to fix the cause and resume it, and says so in its record.

export type SagaStatus = 'running' | 'compensating' | 'done' | 'compensated' | 'stuck';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'compensating' | 'compensated' | 'not-compensated';

export interface StepRecord {
  readonly name: string;
  readonly state: StepState;
  /** Attempts of the action (forward), and of the compensation once compensating. */
  readonly attempts: number;
  readonly compensationAttempts: number;
  /** What the action returned (JSON), for later steps and for its compensation. */
  readonly output?: unknown;
  /** The last failure, as text. */
  readonly error?: string;
  /** Failed for good, but maybe after its effect took place (a timeout, a lost answer): compensated too. */
  readonly uncertain?: boolean;
}

export interface SagaRecord {
  readonly id: string;
  readonly type: string;
  readonly input: unknown;
  readonly status: SagaStatus;
  readonly steps: readonly StepRecord[];
  /** Why the saga turned to compensating (the step that failed for good, and its error). */
  readonly reason?: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** A change of a saga's record. */
export type SagaEvent =
  | { readonly type: 'step-started'; readonly step: number }
  | { readonly type: 'step-done'; readonly step: number; readonly output: unknown }
  /** `final`: no more attempts; `uncertain`: the failure does not say the action took no effect. */
  | { readonly type: 'step-failed'; readonly step: number; readonly error: string; readonly final: boolean; readonly uncertain?: boolean }
  | { readonly type: 'compensation-started'; readonly step: number }
  | { readonly type: 'compensation-done'; readonly step: number }
  | { readonly type: 'compensation-failed'; readonly step: number; readonly error: string; readonly final: boolean }
  /** The step has no compensation: its effect stays, by design, and compensation moves on. */
  | { readonly type: 'compensation-skipped'; readonly step: number }
  | { readonly type: 'resumed' };

export function newSagaRecord(id: string, type: string, stepNames: readonly string[], input: unknown, nowMs: number): SagaRecord {
  if (stepNames.length === 0) throw new Error(`saga type ${type} has no steps`);
  if (new Set(stepNames).size !== stepNames.length) throw new Error(`saga type ${type} names a step twice`);
  return {
    id,
    type,
    input,
    status: 'running',
    steps: stepNames.map((name) => ({ name, state: 'pending', attempts: 0, compensationAttempts: 0 })),
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
}

export const isFinished = (r: SagaRecord): boolean => r.status === 'done' || r.status === 'compensated';

/** What a runner does next with a record: run or compensate a step, or nothing (finished or stuck). */
export type SagaAction = { readonly type: 'run'; readonly step: number } | { readonly type: 'compensate'; readonly step: number } | { readonly type: 'none' };

export function nextAction(r: SagaRecord): SagaAction {
  if (r.status === 'running') {
    const step = r.steps.findIndex((s) => s.state !== 'done');
    return step < 0 ? { type: 'none' } : { type: 'run', step };
  }
  if (r.status === 'compensating') {
    // Newest first: the last step whose effect may stand (done, failed uncertain, or a compensation under way).
    for (let i = r.steps.length - 1; i >= 0; i--) {
      const s = r.steps[i] as StepRecord;
      if (s.state === 'done' || s.state === 'compensating' || (s.state === 'failed' && s.uncertain === true)) return { type: 'compensate', step: i };
    }
    return { type: 'none' };
  }
  return { type: 'none' };
}

/**
 * The record after `e`. Throws on an event that does not fit the record (a runner bug, or a
 * record another runner changed): nothing is ever applied out of order.
 */
export function applySagaEvent(r: SagaRecord, e: SagaEvent, nowMs: number): SagaRecord {
  const at = (i: number): StepRecord => {
    const s = r.steps[i];
    if (s === undefined) throw new Error(`saga ${r.id} has no step ${i}`);
    return s;
  };
  const expect = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`saga ${r.id}: ${e.type} for step ${'step' in e ? e.step : '-'} does not fit its record (${what}; status ${r.status})`);
  };
  const withStep = (i: number, s: StepRecord, extra: Partial<SagaRecord> = {}): SagaRecord => ({ ...r, ...extra, steps: r.steps.map((x, j) => (j === i ? s : x)), updatedAtMs: nowMs });
  switch (e.type) {
    case 'step-started': {
      const next = nextAction(r);
      expect(next.type === 'run' && next.step === e.step, 'not the next step to run');
      const s = at(e.step);
      return withStep(e.step, { ...s, state: 'running', attempts: s.attempts + 1 });
    }
    case 'step-done': {
      const s = at(e.step);
      expect(r.status === 'running' && s.state === 'running', 'the step is not running');
      const done = withStep(e.step, { ...s, state: 'done', output: e.output, error: undefined });
      return done.steps.every((x) => x.state === 'done') ? { ...done, status: 'done' } : done;
    }
    case 'step-failed': {
      const s = at(e.step);
      expect(r.status === 'running' && s.state === 'running', 'the step is not running');
      if (!e.final) return withStep(e.step, { ...s, state: 'pending', error: e.error });
      const failed = withStep(e.step, { ...s, state: 'failed', error: e.error, uncertain: e.uncertain === true }, { status: 'compensating', reason: `step ${s.name} failed: ${e.error}` });
      // Nothing that may have taken effect: nothing to compensate.
      return nextAction(failed).type === 'none' ? { ...failed, status: 'compensated' } : failed;
    }
    case 'compensation-started': {
      const next = nextAction(r);
      expect(next.type === 'compensate' && next.step === e.step, 'not the next step to compensate');
      const s = at(e.step);
      return withStep(e.step, { ...s, state: 'compensating', compensationAttempts: s.compensationAttempts + 1 });
    }
    case 'compensation-done': {
      const s = at(e.step);
      expect(r.status === 'compensating' && s.state === 'compensating', 'the step is not being compensated');
      const done = withStep(e.step, { ...s, state: 'compensated', error: undefined });
      return nextAction(done).type === 'none' ? { ...done, status: 'compensated' } : done;
    }
    case 'compensation-failed': {
      const s = at(e.step);
      expect(r.status === 'compensating' && s.state === 'compensating', 'the step is not being compensated');
      if (e.final) return withStep(e.step, { ...s, state: 'compensating', error: e.error }, { status: 'stuck' });
      return withStep(e.step, { ...s, state: 'compensating', error: e.error });
    }
    case 'compensation-skipped': {
      const next = nextAction(r);
      expect(next.type === 'compensate' && next.step === e.step, 'not the next step to compensate');
      const skipped = withStep(e.step, { ...at(e.step), state: 'not-compensated' });
      return nextAction(skipped).type === 'none' ? { ...skipped, status: 'compensated' } : skipped;
    }
    case 'resumed':
      // An operator's resume of a stuck saga: compensation goes on, attempts counted afresh.
      expect(r.status === 'stuck', 'only a stuck saga is resumed');
      return { ...r, status: 'compensating', steps: r.steps.map((s) => (s.state === 'compensating' ? { ...s, compensationAttempts: 0 } : s)), updatedAtMs: nowMs };
  }
}
