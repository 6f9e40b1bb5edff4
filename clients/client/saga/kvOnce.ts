import type { Compare, RequestOp } from '../../../proto/gen/concord/v1/kv';
import type { ConcordClient } from '../ConcordClient';
import { kvOps } from '../kvOps';

/** What one try of a kvOnce change does: it holds if `compare` does, and answers `result`. */
export interface OnceChange {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  /** Kept with the marker (JSON) and answered by every repeat. */
  readonly result?: unknown;
}

/**
 * Makes a KV change at most once under `markerKey`, the way a saga step's action should: one
 * transaction checks the marker is absent and the change's own compares (say, a balance's mod
 * revision read by `prepare`) and writes the change and the marker together. A repeat (a retry,
 * a runner resuming after a crash, a runner that lost its saga but still ran) finds the marker
 * and answers the first result, changing nothing. When a compare of the change failed (someone
 * wrote meanwhile), `prepare` reads again, up to `triesMax` times. `prepare` may throw (say,
 * PermanentError for insufficient funds): nothing is written then.
 */
export async function kvOnce(client: ConcordClient, markerKey: string, prepare: () => Promise<OnceChange>, triesMax = 20): Promise<unknown> {
  for (let tries = 0; tries < triesMax; tries++) {
    const marker = (await client.kvRange(markerKey)).kvs[0];
    if (marker !== undefined) return JSON.parse(Buffer.from(marker.value).toString('utf8')) as unknown;
    const change = await prepare();
    const result = change.result ?? null;
    const r = await client.kvTxn({
      compare: [kvOps.compare('create', markerKey, '=', 0), ...change.compare],
      success: [...change.success, kvOps.put(markerKey, JSON.stringify(result))],
    });
    if (r.succeeded) return result;
  }
  throw new Error(`kvOnce ${markerKey}: the keys kept changing under ${triesMax} tries`);
}
