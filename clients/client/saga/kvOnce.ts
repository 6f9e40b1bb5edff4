import type { Compare, RequestOp } from '../../../proto/gen/concord/v1/kv';
import { kvOps } from '../kvOps';
import { txnRangeKvs, utf8 } from '../txnRanges';
import { SagaLostError, type SagaFence } from './SagaFence';
import type { KvClient } from './SagaStore';

/** What one try of a kvOnce change does: it holds if `compare` does, and answers `result`. */
export interface OnceChange {
  /** The change's own conditions (say, a balance's mod revision read by `prepare`); none: unconditional. */
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  /** Kept with the marker (as JSON) and answered by every repeat. */
  readonly result?: unknown;
}

/** What kvOnce needs of a step's context (StepContext has it). */
export interface OnceContext {
  /** This attempt's marker key. */
  readonly onceKey: string;
  /** The saga's record as this attempt began (see SagaFence). */
  readonly fence: SagaFence;
  /** For a compensation whose action may not have taken effect: the action's marker key. */
  readonly actionUncertain?: boolean;
  readonly actionOnceKey?: string;
}

/**
 * Makes a saga step's KV change at most once, and only while the step's attempt is the saga's
 * current one: one transaction checks that the marker (`ctx.onceKey`) is absent, that the
 * runner still holds the saga and its record is as the attempt began (`ctx.fence`), and the
 * change's own compares, and writes the change with the marker. A repeat (a retry, a runner
 * resuming after a crash) finds the marker and answers the first result, changing nothing. An
 * attempt the saga has moved past (it timed out and was retried, or its runner lost the saga)
 * can no longer write: SagaLostError. When a compare of the change failed (someone wrote
 * meanwhile), `prepare` reads again, up to `triesMax` times. `prepare` may throw (say,
 * PermanentError for insufficient funds): nothing is written then.
 *
 * For a compensation of a step whose action failed uncertainly (`ctx.actionUncertain`), it
 * first looks for the action's marker: none means the action never took effect (and, fenced,
 * never will), so there is nothing to undo and `prepare` is not called (the answer is null).
 */
export async function kvOnce(client: KvClient, ctx: OnceContext, prepare: () => Promise<OnceChange>, triesMax = 20): Promise<unknown> {
  const { onceKey, fence } = ctx;
  const guard = ctx.actionUncertain === true && ctx.actionOnceKey !== undefined ? ctx.actionOnceKey : undefined;
  for (let tries = 0; tries < triesMax; tries++) {
    const marker = (await client.kvRange(onceKey)).kvs[0];
    if (marker !== undefined) return JSON.parse(utf8(marker.value)) as unknown;
    if (guard !== undefined && (await client.kvRange(guard)).kvs.length === 0) return null;
    const change = await prepare();
    const encoded = JSON.stringify(change.result ?? null);
    const r = await client.kvTxn({
      compare: [
        kvOps.compare('create', onceKey, '=', 0),
        kvOps.compare('value', fence.ownerKey, '=', fence.token),
        kvOps.compare('mod', fence.recordKey, '=', fence.revision),
        ...(guard === undefined ? [] : [kvOps.compare('version', guard, '>', 0)]),
        ...change.compare,
      ],
      success: [...change.success, kvOps.put(onceKey, encoded)],
      failure: [kvOps.get(onceKey), kvOps.get(fence.ownerKey), kvOps.get(fence.recordKey)],
    });
    if (r.succeeded) return JSON.parse(encoded) as unknown;
    const done = txnRangeKvs(r, 0)[0];
    if (done !== undefined) return JSON.parse(done.value) as unknown;
    if (txnRangeKvs(r, 1)[0]?.value !== fence.token || txnRangeKvs(r, 2)[0]?.modRevision !== fence.revision) {
      throw new SagaLostError(`${onceKey}: the saga has moved past this attempt (its runner lost it, or the attempt was given up); nothing was written`);
    }
    // The change's own compares failed: read again, after a short, jittered pause.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 10 * (tries + 1))));
  }
  throw new Error(`kvOnce ${onceKey}: the keys kept changing under ${triesMax} tries`);
}
