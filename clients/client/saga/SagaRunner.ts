import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { forEachLimit } from '../forEachLimit';
import { isServiceError } from '../serviceError';
import { SagaLostError, type SagaFence } from './SagaFence';
import { applySagaEvent, isFinished, newSagaRecord, nextAction, type SagaEvent, type SagaRecord } from './SagaRecord';
import type { SagaStore } from './SagaStore';

export { SagaLostError, type SagaFence } from './SagaFence';

/** What a step's action and compensation are given. */
export interface StepContext<I> {
  readonly sagaId: string;
  readonly step: string;
  readonly input: I;
  /** 1 on the first attempt; a repeat after a failure or a crash counts on. */
  readonly attempt: number;
  /**
   * The same on every attempt of this step's action (`<saga id>/<step>`), and of its
   * compensation (`<saga id>/<step>:compensate`), for effects outside the KV store to be made
   * once (kvOnce does it for KV changes).
   */
  readonly idempotencyKey: string;
  /** This attempt's marker key under the runner's prefix (`<prefix>m/<idempotency key>`): see kvOnce. */
  readonly onceKey: string;
  /** The action's marker key (the same as onceKey for the action itself). */
  readonly actionOnceKey: string;
  /**
   * For a compensation: the action failed in a way that does not say it took no effect (a
   * timeout, a lost answer). The compensation must find out before undoing (kvOnce checks the
   * action's marker).
   */
  readonly actionUncertain: boolean;
  /** The saga's record as this attempt began: an effect written under it cannot land once the saga moved on. */
  readonly fence: SagaFence;
  /** Outputs of the steps done (by step name; a compensation sees its own step's). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Aborted at the step's timeout, when the runner stops, and when its lease ends. */
  readonly signal: AbortSignal;
}

export interface SagaStep<I> {
  /** Letters, digits, '_', '.', '-'. */
  readonly name: string;
  /**
   * One atomic change; its result (JSON) is kept as the step's output. Made once under
   * `ctx.onceKey` and `ctx.fence` (kvOnce): a crash between the change and the record of it runs
   * it again, and an attempt given up on must not land later. Throwing PermanentError says it
   * made no change; any other failure may have come after the change (its compensation checks).
   */
  run(ctx: StepContext<I>): Promise<unknown>;
  /** Undoes `run` (its output is `ctx.outputs[name]`), made once the same way. Without one, the step's effect stays when the saga compensates. */
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
  /** Tries of one write of the store (the record, the owner key) on transient failures (default 5). */
  readonly storeTries?: number;
  /** A failure that says the action took no effect and no repeat can fix (default: PermanentError, and gRPC statuses that say so). */
  readonly isPermanent?: (err: unknown) => boolean;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A failure no repeat can fix, and that took no effect (say, insufficient funds): the saga compensates at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Another runner drives this saga now (its owner key is held under a live lease). */
export class SagaOwnedError extends Error {
  override name = 'SagaOwnedError';
}

// Refusals a node makes before anything takes effect, that a repeat would meet again.
const permanentCodes = new Set<number>([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.PERMISSION_DENIED, status.NOT_FOUND, status.OUT_OF_RANGE, status.ALREADY_EXISTS, status.UNAUTHENTICATED]);

function defaultIsPermanent(err: unknown): boolean {
  return err instanceof PermanentError || (isServiceError(err) && permanentCodes.has(err.code));
}

/** Abandoned sagas a runner resumes at once (resumeAbandoned). */
const resumeConcurrency = 8;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const stepName = /^[A-Za-z0-9_.-]+$/;

interface Lease {
  readonly id: bigint;
  /** Aborted when the lease has ended (or may have: no renewal within its TTL). */
  readonly lost: AbortController;
  validUntil: number;
  readonly timer: ReturnType<typeof setInterval>;
}

export interface ResumeReport {
  readonly resumed: SagaRecord[];
  readonly failed: { readonly id: string; readonly error: unknown }[];
}

export interface MaintainOptions {
  /** Between rounds (default: the runner's lease TTL). */
  readonly everyMs?: number;
  /** Each round also prunes sagas finished at least this long ago (default: no pruning). */
  readonly pruneAfterMs?: number;
  /** Hears each round: sagas resumed (driven to their end), those that failed, sagas pruned, or why the round failed. */
  readonly onRound?: (round: MaintenanceRound) => void;
}

export interface MaintenanceRound extends ResumeReport {
  pruned: number;
  error?: unknown;
}

/**
 * Drives sagas: sequences of steps, each undone by its compensation when a later one fails for
 * good, with their state in the authoritative KV store (SagaRecord). Any runner may resume a
 * saga another left unfinished (a crash, a stop): ownership is a key under the runner's lease,
 * every write of the record is fenced by it and by the record's revision, and so is every effect
 * a step makes with kvOnce (SagaFence): two runners never drive one saga at once, one that lost
 * its lease cannot write what the next one decided, and an attempt given up on cannot land late.
 */
export class SagaRunner {
  private readonly definitions = new Map<string, SagaDefinition<unknown>>();
  private readonly prefix: string;
  private readonly opts: Required<Omit<SagaRunnerOptions, 'prefix'>>;
  private readonly stopping = new AbortController();
  private readonly driving = new Set<string>();
  private readonly drives = new Set<Promise<unknown>>();
  private lease: Lease | undefined;
  private leaseGrant: Promise<Lease> | undefined;
  private abandoned = false;
  /** Whether `sleep` was given (tests): maintain's pauses then use it instead of a timer of their own. */
  private readonly sleepInjected: boolean;

  constructor(private readonly store: SagaStore, options: SagaRunnerOptions = {}) {
    this.prefix = options.prefix ?? 'sagas/';
    this.opts = {
      leaseTtlMs: options.leaseTtlMs ?? 10_000,
      stepAttempts: options.stepAttempts ?? 3,
      compensationAttempts: options.compensationAttempts ?? 10,
      backoffMs: options.backoffMs ?? 100,
      stepTimeoutMs: options.stepTimeoutMs ?? 30_000,
      storeTries: options.storeTries ?? 5,
      isPermanent: options.isPermanent ?? defaultIsPermanent,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
    this.sleepInjected = options.sleep !== undefined;
  }

  define<I>(definition: SagaDefinition<I>): this {
    for (const s of definition.steps) if (!stepName.test(s.name)) throw new Error(`saga type ${definition.type}: step name ${JSON.stringify(s.name)} must be letters, digits, '_', '.' or '-'`);
    newSagaRecord('check', definition.type, definition.steps.map((s) => s.name), null, 0); // no steps, or a name twice: refused here
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
   * record (done, compensated, or stuck). Starting an id that exists with the same type and
   * input drives that saga on (the same call repeated after a crash does not start a second one).
   */
  async start<I>(type: string, id: string, input: I): Promise<SagaRecord> {
    const def = this.definition(type);
    return this.drive(id, (existing) => {
      if (existing === undefined) return newSagaRecord(id, def.type, def.steps.map((s) => s.name), input ?? null, this.opts.now());
      if (existing.type !== type || JSON.stringify(existing.input) !== JSON.stringify(input ?? null)) {
        throw new Error(`saga ${id} exists as a ${existing.type} saga with input ${JSON.stringify(existing.input)}: not started again with other ones`);
      }
      return existing;
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
   * Deletes the records of sagas finished (done or compensated) before `finishedBeforeMs`, with
   * their steps' markers; returns how many. A stalled attempt of such a saga cannot land even
   * then: its fence names the record's revision, which no longer exists. A saga that changed
   * meanwhile, or that a runner holds, is left.
   */
  async prune(finishedBeforeMs: number): Promise<number> {
    let removed = 0;
    for (const kv of await this.store.list(`${this.prefix}r/`)) {
      if (this.stopping.signal.aborted) break; // closing: the rest waits for another prune
      const r = JSON.parse(kv.value) as SagaRecord;
      if (!isFinished(r) || r.updatedAtMs >= finishedBeforeMs) continue;
      const markers = r.steps.flatMap((s) => [`${this.prefix}m/${r.id}/${s.name}`, `${this.prefix}m/${r.id}/${s.name}:compensate`]);
      if (await this.store.remove(kv.key, kv.modRevision, this.ownerKey(r.id), markers)) removed++;
    }
    return removed;
  }

  /**
   * Resumes every saga of a type this runner defines that is left running or compensating with
   * no runner (its owner key gone with its runner's lease), up to 8 at once. Those another
   * runner holds are left to it; one that fails is reported and the others go on. Run it at
   * start-up and every lease TTL or so (a saga whose runner met a storage failure waits for it).
   */
  async resumeAbandoned(): Promise<ResumeReport> {
    const report: ResumeReport = { resumed: [], failed: [] };
    // Sagas whose owner key stands are driven by a live runner: not even tried (a try costs a
    // lease grant, a claim and a revoke, on every runner, every round).
    const owned = new Set((await this.store.list(`${this.prefix}o/`)).map((kv) => kv.key.slice(`${this.prefix}o/`.length)));
    const left = (await this.list()).filter((r) => (r.status === 'running' || r.status === 'compensating') && this.definitions.has(r.type) && !this.driving.has(r.id) && !owned.has(r.id));
    // Several at once, so one slow saga does not hold up the takeover of the others.
    await forEachLimit(left.length, resumeConcurrency, async (i) => {
      const r = left[i] as SagaRecord;
      try {
        report.resumed.push(await this.resume(r.id));
      } catch (error) {
        if (!(error instanceof SagaOwnedError)) report.failed.push({ id: r.id, error });
      }
    });
    return report;
  }

  /**
   * Keeps this runner's sagas moving without the application calling in: resumes abandoned sagas
   * (resumeAbandoned) at once and then `everyMs` (default: the lease TTL) after each round
   * ends, and, with `pruneAfterMs`, prunes sagas finished at least that long ago each round.
   * Rounds never overlap; a round that fails (the store unreachable) is reported and the next
   * one runs all the same. Returns a function that stops it; close() and abandon() stop it too,
   * and nothing of it is left waiting (a stopped runner's process may exit at once).
   */
  maintain(options: MaintainOptions = {}): () => void {
    if (this.stopping.signal.aborted) throw new Error('the saga runner is stopped: maintain() needs a runner that is not closed or abandoned');
    const stopped = new AbortController();
    const onStop = (): void => stopped.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    const everyMs = options.everyMs ?? this.opts.leaseTtlMs;
    /** The wait between rounds, cut short by a stop; it leaves no timer or listener behind. */
    const pause = (): Promise<void> => new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        stopped.signal.removeEventListener('abort', done);
        resolve();
      };
      stopped.signal.addEventListener('abort', done, { once: true });
      if (this.sleepInjected) void this.opts.sleep(everyMs).then(done);
      else timer = setTimeout(done, everyMs);
    });
    const loop = async (): Promise<void> => {
      while (!stopped.signal.aborted) {
        const round: MaintenanceRound = { resumed: [], failed: [], pruned: 0 };
        try {
          const r = await this.resumeAbandoned();
          round.resumed.push(...r.resumed);
          round.failed.push(...r.failed);
          if (options.pruneAfterMs !== undefined && !stopped.signal.aborted) round.pruned = await this.prune(this.opts.now() - options.pruneAfterMs);
        } catch (error) {
          round.error = error;
        }
        if (stopped.signal.aborted) break;
        try {
          options.onRound?.(round);
        } catch {
          // A listener's failure is its own: maintenance goes on.
        }
        await pause();
      }
    };
    const running = loop().catch(() => undefined);
    this.drives.add(running);
    void running.finally(() => this.drives.delete(running));
    return () => {
      this.stopping.signal.removeEventListener('abort', onStop);
      stopped.abort();
    };
  }

  /**
   * Stops driving: attempts under way are aborted (their late effects are fenced off), the
   * drives end, then the lease is revoked so another runner may resume their sagas at once.
   */
  async close(): Promise<void> {
    this.stopping.abort(new Error('the saga runner is closing'));
    await Promise.allSettled([...this.drives]);
    await this.dropLease(true);
  }

  /** Stops at once without releasing or revoking anything, as a crashed process would (for tests and drills). */
  abandon(): void {
    this.abandoned = true;
    this.stopping.abort(new Error('the saga runner was abandoned'));
    if (this.lease !== undefined) clearInterval(this.lease.timer);
  }

  private definition(type: string): SagaDefinition<unknown> {
    const def = this.definitions.get(type);
    if (def === undefined) throw new Error(`no saga type ${type} is defined on this runner`);
    return def;
  }

  /** The runner's lease while it drives sagas: granted on first use, renewed at a third of its TTL, revoked when idle. */
  private async ownLease(): Promise<Lease> {
    if (this.lease !== undefined && !this.lease.lost.signal.aborted) return this.lease;
    this.leaseGrant ??= this.store.leaseGrant(this.opts.leaseTtlMs).then((id) => {
      const lease: Lease = { id, lost: new AbortController(), validUntil: this.opts.now() + this.opts.leaseTtlMs, timer: setInterval(() => this.renew(lease), Math.max(50, Math.floor(this.opts.leaseTtlMs / 3))) };
      lease.timer.unref?.();
      if (this.stopping.signal.aborted) clearInterval(lease.timer);
      this.lease = lease;
      return lease;
    }).finally(() => {
      this.leaseGrant = undefined;
    });
    return this.leaseGrant;
  }

  private renew(lease: Lease): void {
    if (this.opts.now() > lease.validUntil) return this.leaseEnded(lease, 'not renewed within its TTL');
    this.store.leaseKeepAlive(lease.id).then(() => {
      lease.validUntil = this.opts.now() + this.opts.leaseTtlMs;
    }, (err: unknown) => {
      // NOT_FOUND: it has ended. Anything else may pass: the next tick tries again, until the TTL is spent.
      if (isServiceError(err) && err.code === status.NOT_FOUND) this.leaseEnded(lease, 'expired');
    });
  }

  private leaseEnded(lease: Lease, why: string): void {
    clearInterval(lease.timer);
    lease.lost.abort(new SagaLostError(`the runner's lease ${lease.id} ${why}`));
    if (this.lease === lease) this.lease = undefined;
  }

  /** Revokes the lease when no saga is driven (or `always`, on close). Decided and dropped in one turn, so no drive starting meanwhile picks up a lease being revoked. */
  private async dropLease(always: boolean): Promise<void> {
    if (always) await this.leaseGrant?.catch(() => undefined);
    const lease = this.lease;
    if (lease === undefined || (!always && this.driving.size > 0)) return;
    clearInterval(lease.timer);
    this.lease = undefined;
    await this.store.leaseRevoke(lease.id).catch(() => undefined); // gone already, or ends by itself
  }

  private drive(id: string, initial: (existing: SagaRecord | undefined) => SagaRecord): Promise<SagaRecord> {
    if (this.stopping.signal.aborted) return Promise.reject(new SagaLostError(`saga ${id}: the runner has stopped`));
    if (this.driving.has(id)) return Promise.reject(new SagaOwnedError(`saga ${id} is being driven by this runner`));
    this.driving.add(id);
    const run = this.driveOwned(id, initial).finally(async () => {
      this.driving.delete(id);
      this.drives.delete(run);
      if (!this.abandoned && !this.stopping.signal.aborted) await this.dropLease(false);
    });
    this.drives.add(run);
    return run;
  }

  private async driveOwned(id: string, initial: (existing: SagaRecord | undefined) => SagaRecord): Promise<SagaRecord> {
    const ownerKey = this.ownerKey(id);
    let lease = await this.ownLease();
    let token: string | undefined;
    try {
      // Adopts a key an earlier claim of ours left under this lease (its answer lost): nobody else drives it.
      token = await this.storeCall(() => this.store.claim(ownerKey, randomUUID(), lease.id));
    } catch (err) {
      // The lease ended before its renewal said so: once more, under a new one.
      if (!isServiceError(err) || err.code !== status.NOT_FOUND) throw err;
      this.leaseEnded(lease, 'expired');
      lease = await this.ownLease();
      const current = lease;
      token = await this.storeCall(() => this.store.claim(ownerKey, randomUUID(), current.id));
    }
    if (token === undefined) throw new SagaOwnedError(`saga ${id} is driven by another runner`);
    try {
      const stored = await this.storeCall(() => this.store.read(this.recordKey(id)));
      const existing = stored === undefined ? undefined : (JSON.parse(stored.value) as SagaRecord);
      let record = initial(existing);
      const def = this.definition(record.type);
      const recorded = record.steps.map((s) => s.name).join(',');
      if (recorded !== def.steps.map((s) => s.name).join(',')) {
        throw new Error(`saga ${id} was recorded with steps ${recorded}; this runner's ${record.type} has ${def.steps.map((s) => s.name).join(',')}: it is left as it is`);
      }
      let revision = record === existing ? (stored as { modRevision: bigint }).modRevision : await this.persist(id, record, stored?.modRevision ?? 'absent', token);
      /** Writes the record after `e`; only then is it the record. */
      const save = async (e: SagaEvent): Promise<void> => {
        const next = applySagaEvent(record, e, this.opts.now());
        revision = await this.persist(id, next, revision, token);
        record = next;
      };
      let delay = this.opts.backoffMs;
      for (;;) {
        const action = nextAction(record);
        if (action.type === 'none') return record;
        const i = action.step;
        const step = def.steps[i] as SagaStep<unknown>;
        const compensate = step.compensate?.bind(step);
        if (action.type === 'compensate' && compensate === undefined) {
          await save({ type: 'compensation-skipped', step: i });
          continue;
        }
        await save(action.type === 'run' ? { type: 'step-started', step: i } : { type: 'compensation-started', step: i });
        const s = record.steps[i]!;
        const forward = action.type === 'run';
        const ctx = this.context(record, i, forward, { ownerKey, token, recordKey: this.recordKey(id), revision }, lease);
        let failure: unknown;
        let output: unknown;
        try {
          output = await this.attempt(step, ctx, forward ? (c) => step.run(c) : (compensate as (c: StepContext<unknown>) => Promise<unknown>));
        } catch (err) {
          if (err instanceof SagaLostError) throw err;
          failure = err ?? new Error('the step failed');
        }
        if (failure === undefined) {
          await save(forward ? { type: 'step-done', step: i, output: output ?? null } : { type: 'compensation-done', step: i });
          delay = this.opts.backoffMs;
        } else if (forward) {
          const permanent = this.opts.isPermanent(failure);
          const final = permanent || s.attempts >= (step.attempts ?? this.opts.stepAttempts);
          await save({ type: 'step-failed', step: i, error: errorText(failure), final, uncertain: final && !permanent });
          if (!final) delay = await this.backOff(delay);
        } else {
          const final = s.compensationAttempts >= this.opts.compensationAttempts;
          await save({ type: 'compensation-failed', step: i, error: errorText(failure), final });
          if (!final) delay = await this.backOff(delay);
        }
        if (isFinished(record) || record.status === 'stuck') return record;
      }
    } finally {
      // A crashed process leaves its owner keys to its lease's end; abandon() does the same.
      if (!this.abandoned) await this.storeCall(() => this.store.release(ownerKey, token)).catch(() => undefined);
    }
  }

  private context(r: SagaRecord, step: number, forward: boolean, fence: SagaFence, lease: Lease): Omit<StepContext<unknown>, 'signal'> & { lease: Lease } {
    const s = r.steps[step]!;
    const outputs: Record<string, unknown> = {};
    for (const x of r.steps) if (x.state === 'done' || x.state === 'compensating') outputs[x.name] = x.output;
    const actionKey = `${r.id}/${s.name}`;
    const idempotencyKey = forward ? actionKey : `${actionKey}:compensate`;
    return {
      sagaId: r.id,
      step: s.name,
      input: r.input,
      attempt: forward ? s.attempts : s.compensationAttempts,
      idempotencyKey,
      onceKey: `${this.prefix}m/${idempotencyKey}`,
      actionOnceKey: `${this.prefix}m/${actionKey}`,
      actionUncertain: !forward && s.uncertain === true,
      fence,
      outputs,
      lease,
    };
  }

  /** One attempt, bounded by the step's timeout, the runner's stop and its lease. */
  private attempt<T>(step: SagaStep<unknown>, ctx: Omit<StepContext<unknown>, 'signal'> & { lease: Lease }, fn: (ctx: StepContext<unknown>) => Promise<T>): Promise<T> {
    const timeoutMs = step.timeoutMs ?? this.opts.stepTimeoutMs;
    const signal = AbortSignal.any([this.stopping.signal, ctx.lease.lost.signal, AbortSignal.timeout(timeoutMs)]);
    const { lease: _lease, ...stepCtx } = ctx;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.stopping.signal.aborted) reject(new SagaLostError(`saga ${ctx.sagaId}: ${errorText(this.stopping.signal.reason)}`));
        else if (ctx.lease.lost.signal.aborted) reject(ctx.lease.lost.signal.reason);
        else reject(new Error(`step ${ctx.step} did not finish within ${timeoutMs} ms`));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      Promise.resolve().then(() => fn({ ...stepCtx, signal })).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async backOff(delay: number): Promise<number> {
    await this.opts.sleep(delay);
    return Math.min(delay * 2, 5000);
  }

  /** A store call, tried again on transient failures (a node down, an election): `storeTries` in all. */
  private async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    let delay = this.opts.backoffMs;
    for (let tries = 1; ; tries++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof SagaLostError || this.opts.isPermanent(err) || tries >= this.opts.storeTries || this.stopping.signal.aborted) throw err;
        delay = await this.backOff(delay);
      }
    }
  }

  /**
   * Writes the record, fenced (see SagaStore.write). A write whose answer was lost may have
   * landed: the record as stored tells (the same bytes), and the drive goes on from there.
   */
  private async persist(id: string, record: SagaRecord, expected: bigint | 'absent', token: string): Promise<bigint> {
    if (this.stopping.signal.aborted) throw new SagaLostError(`saga ${id}: the runner has stopped`);
    const key = this.recordKey(id);
    const value = JSON.stringify(record);
    const revision = await this.storeCall(async () => {
      try {
        return await this.store.write(key, value, expected, this.ownerKey(id), token);
      } catch (err) {
        const now = await this.store.read(key).catch(() => undefined);
        if (now?.value === value) return now.modRevision;
        throw err;
      }
    });
    if (revision !== undefined) return revision;
    const now = await this.storeCall(() => this.store.read(key));
    if (now?.value === value) return now.modRevision; // an earlier try landed, its answer lost
    throw new SagaLostError(`saga ${id}: this runner no longer holds it (its lease ended, or another runner wrote its record)`);
  }
}
