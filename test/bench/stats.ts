// Small statistics helpers shared by every scenario. Percentiles use the nearest-rank method on
// a sorted copy: exact for the sample sizes a round produces (tens of thousands at most).

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * A round's measured window in wall-clock time (ms since the epoch), kept with its metrics so the
 * node profiles of a `--profile` run can be cut to it; not a metric (no median).
 */
export const windowKeys = ['windowFromMs', 'windowToMs'] as const;

/** The measured windows of a row's rounds (those that recorded one). */
export function windowsOf(rounds: readonly Record<string, number>[]): [number, number][] {
  return rounds.filter((r) => Number.isFinite(r.windowFromMs) && Number.isFinite(r.windowToMs)).map((r) => [r.windowFromMs as number, r.windowToMs as number]);
}

/** Median of each metric over rounds; a metric missing from a round is ignored there. */
export function medianMetrics(rounds: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(rounds.flatMap((r) => Object.keys(r)).filter((k) => !(windowKeys as readonly string[]).includes(k)));
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = median(rounds.map((r) => r[key] ?? Number.NaN));
  return out;
}

/** a / b, or NaN when either side is missing (a skipped reference must not look like a win). */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}

export function round3(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : n;
}
