import { performance } from 'node:perf_hooks';
import { percentile } from './stats';

/** One operation of a closed-loop client: `worker` is the client's index, `n` its op counter. */
export type LoadOp = (worker: number, n: number) => Promise<void>;

export interface LoadSpec {
  readonly clients: number;
  readonly durationMs: number;
  /** Ops in this first stretch are run but not counted (connections, JIT, caches warm up). */
  readonly warmupMs: number;
  readonly op: LoadOp;
  /** Called with each counted op's completion time (ms, performance clock) and its latency. */
  readonly onDone?: (worker: number, n: number, doneAt: number) => void;
  /** Units of work one op does (e.g. 16 for an Apply of 16 operations); default 1. */
  readonly opsPerCall?: number;
  /** Called with every failed op's error (the caller reports the first of each kind). */
  readonly onError?: (err: unknown) => void;
}

export interface LoadResult extends Record<string, number> {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  calls: number;
  errors: number;
}

/**
 * A closed loop: `clients` workers each issue one call, wait for it, and issue the next, so
 * the offered load is what the server sustains (as redis-benchmark and etcd's benchmark do).
 * Errors are counted, not retried, and end nothing: a run with many errors says so in `errors`.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const start = performance.now();
  const countFrom = start + spec.warmupMs;
  const end = countFrom + spec.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; ; n++) {
      const t0 = performance.now();
      if (t0 >= end) return;
      try {
        await spec.op(w, n);
      } catch (err) {
        errors++;
        firstError ??= err;
        spec.onError?.(err);
        continue;
      }
      const t1 = performance.now();
      if (t0 >= countFrom) {
        latencies.push(t1 - t0);
        spec.onDone?.(w, n, t1);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.clients }, (_, w) => worker(w)));
  if (latencies.length === 0 && firstError !== undefined) throw firstError;
  const seconds = (performance.now() - countFrom) / 1000;
  return {
    opsPerSec: (latencies.length * (spec.opsPerCall ?? 1)) / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    calls: latencies.length,
    errors,
  };
}

/** A value of exactly `bytes` ASCII bytes starting with `prefix` (so it can carry a sequence). */
export function paddedValue(prefix: string, bytes: number): string {
  return prefix.length >= bytes ? prefix.slice(0, bytes) : prefix + 'x'.repeat(bytes - prefix.length);
}
