import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { isServiceError } from '../serviceError';
import { applySagaEvent, isFinished, newSagaRecord, nextAction, type SagaEvent, type SagaRecord } from './SagaRecord';
import type { SagaStore } from './SagaStore';

/** What a step's action and compensation are given. */
export interface StepContext<I> {
  readonly sagaId: string;
  readonly step: string;
  readonly input: I;
  /** 1 on the first attempt; a repeat after a failure or a crash counts on. */
  readonly attempt: number;
  /**
   * The same on every attempt of this step's action (`<saga id>/<step>`), and of its
   * compensation (`<saga id>/<step>/compensate`): an action records it with its effect, atomically,
   * and does nothing when it finds it already recorded, so a repeat takes effect once.
   */
  readonly idempotencyKey: string;
  /** A KV key for this attempt's marker, under the runner's prefix (`<prefix>m/<idempotency key>`): see kvOnce. */
  readonly onceKey: string;
  /** Outputs of the steps done before this one (by step name). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Aborted at the step's timeout, and when the runner stops. */
  readonly signal: AbortSignal;
}

export interface SagaStep<I> {
  readonly name: string;
  /**
   * One atomic change, or none when it throws; its result (JSON) is kept as the step's output.
   * Idempotent under `ctx.idempotencyKey`: a crash between the change and the record of it
   * runs it again.
   */
  run(ctx: StepContext<I>): Promise<unknown>;
  /** Undoes `run` (given its output as `ctx.outputs[name]`); idempotent. Without one, the step's effect stays when the saga compensates. */
  compensate?(ctx: StepContext<I>): Promise<unknown>;
  /** Attempts of the action before the saga compensates (default: the runner's). */
  readonly attempts?: number;
  /** Bound on one attempt (default: the runner's); the attempt's signal is aborted then. */
  readonly timeoutMs?: number;
}

export interface SagaDefinition<I> {
  readonly type: string;
  readonly steps: readonly SagaStep<I>[];
}

export interface SagaRunnerOptions {
  /** Keys of the records (`<prefix>r/<id>`), their owners (`<prefix>o/<id>`) and steps' markers (`<prefix>m/...`); default "sagas/". */
  readonly prefix?: string;
  /** TTL of the runner's lease: how soon another runner may take over a saga this one stopped driving (default 10 s). */
  readonly leaseTtlMs?: number;
  /** Attempts of an action (default 3) and of a compensation (default 10) before giving up on it. */
  readonly stepAttempts?: number;
  readonly compensationAttempts?: number;
  /** Wait before a repeat, doubled on each (default 100 ms, at most 5 s). */
  readonly backoffMs?: number;
  /** Bound on one attempt of a step (default 30 s). */
  readonly stepTimeoutMs?: number;
  /** A failure that no repeat can fix (default: PermanentError, and gRPC statuses that say so). */
  readonly isPermanent?: (err: unknown) => boolean;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A failure no repeat can fix (say, insufficient funds): the saga compensates at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Another runner drives this saga now (its owner key is held under a live lease). */
export class SagaOwnedError extends Error {
  override name = 'SagaOwnedError';
}

/** This runner lost the saga while driving it (its lease ended, or the record changed under it): it stops. */
export class SagaLostError extends Error {
  override name = 'SagaLostError';
}

const permanentCodes = new Set<number>([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.PERMISSION_DENIED, status.NOT_FOUND, status.OUT_OF_RANGE, status.ALREADY_EXISTS, status.UNAUTHENTICATED]);

function defaultIsPermanent(err: unknown): boolean {
  return err instanceof PermanentError || (isServiceError(err) && permanentCodes.has(err.code));
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Drives sagas: sequences of steps, each undone by its compensation when a later one fails for
 * good, with their state in the authoritative KV store (SagaRecord). Any runner may resume a
 * saga another left unfinished (a crash, a stop): ownership is a key under the runner's lease,
 * and every write of the record is fenced by it, so two runners never drive one saga at once,
 * and one that lost its lease cannot write what the next one decided.
 */
export class SagaRunner {
  private readonly definitions = new Map<string, SagaDefinition<unknown>>();
  private readonly prefix: string;
  private readonly opts: Required<Omit<SagaRunnerOptions, 'prefix'>>;
  private readonly stopping = new AbortController();
  private lease: Promise<bigint> | undefined;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private leaseLost = false;
  private abandoned = false;

  constructor(private readonly store: SagaStore, options: SagaRunnerOptions = {}) {
    this.prefix = options.prefix ?? 'sagas/';
    this.opts = {
      leaseTtlMs: options.leaseTtlMs ?? 10_000,
      stepAttempts: options.stepAttempts ?? 3,
      compensationAttempts: options.compensationAttempts ?? 10,
      backoffMs: options.backoffMs ?? 100,
      stepTimeoutMs: options.stepTimeoutMs ?? 30_000,
      isPermanent: options.isPermanent ?? defaultIsPermanent,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  define<I>(definition: SagaDefinition<I>): this {
    newSagaRecord('check', definition.type, definition.steps.map((s) => s.name), null, 0); // names checked once, here
    this.definitions.set(definition.type, definition as SagaDefinition<unknown>);
    return this;
  }

  recordKey(id: string): string {
    return `${this.prefix}r/${id}`;
  }

  private ownerKey(id: string): string {
    return `${this.prefix}o/${id}`;
  }

  /**
   * Starts saga `id` of `type` with `input` and drives it to its end; resolves with the final
   * record (done, compensated, or stuck). Starting an id that exists drives that saga on
   * instead (the same call repeated after a crash does not start a second one).
   */
  async start<I>(type: string, id: string, input: I): Promise<SagaRecord> {
    const def = this.definition(type);
    return this.drive(id, (existing) => {
      if (existing !== undefined && existing.type !== type) throw new Error(`saga ${id} exists as a ${existing.type} saga, not ${type}`);
      return existing ?? newSagaRecord(id, def.type, def.steps.map((s) => s.name), input, this.opts.now());
    });
  }

  /** Drives an unfinished saga on (after a crash of the runner that drove it); a stuck one is compensated again. */
  async resume(id: string): Promise<SagaRecord> {
    return this.drive(id, (existing) => {
      if (existing === undefined) throw new Error(`no saga ${id} under ${this.prefix}`);
      return existing.status === 'stuck' ? applySagaEvent(existing, { type: 'resumed' }, this.opts.now()) : existing;
    });
  }

  /** Every saga record under this runner's prefix. */
  async list(): Promise<SagaRecord[]> {
    return (await this.store.list(`${this.prefix}r/`)).map((kv) => JSON.parse(kv.value) as SagaRecord);
  }

  /**
   * Resumes every saga left running or compensating whose runner is gone (no owner key), one
   * after another; those another runner holds are left to it. Returns the final records.
   */
  async resumeAbandoned(): Promise<SagaRecord[]> {
    const out: SagaRecord[] = [];
    for (const r of await this.list()) {
      if (r.status !== 'running' && r.status !== 'compensating') continue;
      if (!this.definitions.has(r.type)) continue;
      try {
        out.push(await this.resume(r.id));
      } catch (err) {
        if (!(err instanceof SagaOwnedError)) throw err;
      }
    }
    return out;
  }

  /** Stops driving: steps under way are aborted, the lease revoked (its sagas are free to resume elsewhere at once). */
  async close(): Promise<void> {
    this.stopping.abort(new Error('the saga runner is closing'));
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    const lease = await this.lease?.catch(() => undefined);
    if (lease !== undefined) await this.store.leaseRevoke(lease).catch(() => undefined);
  }

  /** Stops keeping the lease alive without revoking it, as a crashed process would (for tests and drills). */
  abandon(): void {
    this.abandoned = true;
    this.stopping.abort(new Error('the saga runner was abandoned'));
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
  }

  private definition(type: string): SagaDefinition<unknown> {
    const def = this.definitions.get(type);
    if (def === undefined) throw new Error(`no saga type ${type} is defined on this runner`);
    return def;
  }

  /** The runner's lease, granted on first use and kept alive at a third of its TTL. */
  private async ownLease(): Promise<bigint> {
    this.lease ??= this.store.leaseGrant(this.opts.leaseTtlMs).then((id) => {
      this.keepAlive = setInterval(() => {
        this.store.leaseKeepAlive(id).catch(() => {
          // Gone (expired while this process stalled): every saga it held is lost; writes fail their fence.
          this.leaseLost = true;
        });
      }, Math.max(50, Math.floor(this.opts.leaseTtlMs / 3)));
      this.keepAlive.unref?.();
      return id;
    });
    return this.lease;
  }

  private async drive(id: string, initial: (existing: SagaRecord | undefined) => SagaRecord): Promise<SagaRecord> {
    if (this.stopping.signal.aborted) throw new SagaLostError(`saga ${id}: the runner has stopped`);
    const lease = await this.ownLease();
    if (this.leaseLost) throw new SagaLostError(`saga ${id}: this runner's lease has ended`);
    const token = `${randomUUID()}`;
    if (!(await this.store.claim(this.ownerKey(id), token, lease))) throw new SagaOwnedError(`saga ${id} is driven by another runner`);
    try {
      const stored = await this.store.read(this.recordKey(id));
      const existing = stored === undefined ? undefined : (JSON.parse(stored.value) as SagaRecord);
      let record = initial(existing);
      let revision: bigint | 'absent' = stored === undefined ? 'absent' : stored.modRevision;
      if (existing === undefined || record !== existing) revision = await this.persist(id, record, revision, token);
      const def = this.definition(record.type);
      let delay = this.opts.backoffMs;
      const save = async (e: SagaEvent): Promise<void> => {
        record = applySagaEvent(record, e, this.opts.now());
        revision = await this.persist(id, record, revision, token);
      };
      for (;;) {
        const next = nextAction(record);
        if (next.type === 'none') return record;
        const step = def.steps[next.step];
        if (step === undefined) throw new Error(`saga ${id}: step ${next.step} is not in the definition of ${record.type}`);
        if (next.type === 'run') {
          await save({ type: 'step-started', step: next.step });
          const attempt = record.steps[next.step]?.attempts ?? 1;
          try {
            const output = await this.attempt(step, this.context(record, next.step, `${id}/${step.name}`, attempt), (ctx) => step.run(ctx));
            await save({ type: 'step-done', step: next.step, output: output ?? null });
            delay = this.opts.backoffMs;
          } catch (err) {
            if (err instanceof SagaLostError) throw err;
            const final = this.opts.isPermanent(err) || attempt >= (step.attempts ?? this.opts.stepAttempts);
            await save({ type: 'step-failed', step: next.step, error: errorText(err), final });
            if (!final) delay = await this.backOff(delay);
          }
        } else if (step.compensate === undefined) {
          await save({ type: 'compensation-skipped', step: next.step });
        } else {
          const compensate = step.compensate.bind(step);
          await save({ type: 'compensation-started', step: next.step });
          const attempt = record.steps[next.step]?.compensationAttempts ?? 1;
          try {
            await this.attempt(step, this.context(record, next.step, `${id}/${step.name}/compensate`, attempt), compensate);
            await save({ type: 'compensation-done', step: next.step });
            delay = this.opts.backoffMs;
          } catch (err) {
            if (err instanceof SagaLostError) throw err;
            const final = attempt >= this.opts.compensationAttempts;
            await save({ type: 'compensation-failed', step: next.step, error: errorText(err), final });
            if (!final) delay = await this.backOff(delay);
          }
        }
        if (isFinished(record) || record.status === 'stuck') return record;
      }
    } finally {
      // A crashed process leaves its owner keys to its lease's end; abandon() does the same.
      if (!this.abandoned) await this.store.release(this.ownerKey(id), token).catch(() => undefined);
    }
  }

  private context(r: SagaRecord, step: number, idempotencyKey: string, attempt: number): Omit<StepContext<unknown>, 'signal'> {
    const outputs: Record<string, unknown> = {};
    for (const s of r.steps) if (s.state === 'done' || s.state === 'compensating') outputs[s.name] = s.output;
    return { sagaId: r.id, step: r.steps[step]?.name ?? '', input: r.input, attempt, idempotencyKey, onceKey: `${this.prefix}m/${idempotencyKey}`, outputs };
  }

  /** One attempt, bounded by the step's timeout and the runner's stop. */
  private async attempt<T>(step: SagaStep<unknown>, ctx: Omit<StepContext<unknown>, 'signal'>, fn: (ctx: StepContext<unknown>) => Promise<T>): Promise<T> {
    const timeoutMs = step.timeoutMs ?? this.opts.stepTimeoutMs;
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(timeoutMs)]);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(this.stopping.signal.aborted ? new SagaLostError(`saga ${ctx.sagaId}: ${errorText(this.stopping.signal.reason)}`) : new Error(`step ${ctx.step} did not finish within ${timeoutMs} ms`));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      fn({ ...ctx, signal }).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async backOff(delay: number): Promise<number> {
    await this.opts.sleep(delay);
    return Math.min(delay * 2, 5000);
  }

  private async persist(id: string, record: SagaRecord, expected: bigint | 'absent', token: string): Promise<bigint> {
    if (this.stopping.signal.aborted) throw new SagaLostError(`saga ${id}: the runner has stopped`);
    const revision = await this.store.write(this.recordKey(id), JSON.stringify(record), expected, this.ownerKey(id), token);
    if (revision === undefined) throw new SagaLostError(`saga ${id}: this runner no longer holds it (its lease ended, or another runner wrote its record)`);
    return revision;
  }
}

