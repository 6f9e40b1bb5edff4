import { readFileSync } from 'node:fs';
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
  /** Processes of the system under test, whose CPU time per call is reported. */
  readonly serverPids?: () => readonly number[];
  /**
   * Calls (all clients together) the run makes at least, going on past `durationMs` until then
   * but not past ten times it: a warm-up round measured in calls (see BenchOptions.warmupRoundCalls).
   */
  readonly minCalls?: number;
}

export interface LoadResult extends Record<string, number> {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** The slowest counted call (a stall the percentiles hide). */
  maxMs: number;
  calls: number;
  errors: number;
  /** CPU time (user + system) of the server processes per counted call; NaN without pids. */
  serverCpuMsPerCall: number;
  /** CPU time of this load-generating process per counted call (same client code for every system). */
  loadgenCpuMsPerCall: number;
  /** The measured window in wall-clock time (ms since the epoch), for the node profiles (see windowsOf). */
  windowFromMs: number;
  windowToMs: number;
}

/** CPU time (user + system) a process has used so far, from /proc; 0 if unreadable. */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
  } catch {
    return 0;
  }
}

/** USER_HZ: 100 on Linux builds for every common architecture. */
const clockTicksPerSecond = 100;

const cpuNow = (pids: readonly number[]): { self: number; servers: number } => {
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1000, servers: pids.reduce((sum, pid) => sum + processCpuMs(pid), 0) };
};

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
  const pids = spec.serverPids?.() ?? [];
  let cpuFrom = cpuNow(pids);
  const cpuTimer = setTimeout(() => (cpuFrom = cpuNow(pids)), spec.warmupMs);
  const cap = countFrom + 10 * spec.durationMs;
  let started = 0;
  let errors = 0;
  let firstError: unknown;
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; ; n++) {
      const t0 = performance.now();
      // Past the window, a worker stops once minCalls were made and some call was counted: calls
      // slower than the window (a loaded machine, the smoke test's short rounds) would otherwise
      // leave a round with nothing measured. Never past the cap.
      if (t0 >= end && ((started >= (spec.minCalls ?? 0) && latencies.length > 0) || t0 >= cap)) return;
      started++;
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
  clearTimeout(cpuTimer);
  const cpuTo = cpuNow(pids);
  if (latencies.length === 0 && firstError !== undefined) throw firstError;
  const stoppedAt = performance.now();
  const seconds = (stoppedAt - countFrom) / 1000;
  const calls = latencies.length;
  return {
    opsPerSec: (calls * (spec.opsPerCall ?? 1)) / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.reduce((a, b) => Math.max(a, b), 0),
    calls,
    errors,
    serverCpuMsPerCall: pids.length === 0 || calls === 0 ? Number.NaN : (cpuTo.servers - cpuFrom.servers) / calls,
    loadgenCpuMsPerCall: calls === 0 ? Number.NaN : (cpuTo.self - cpuFrom.self) / calls,
    windowFromMs: performance.timeOrigin + countFrom,
    windowToMs: performance.timeOrigin + stoppedAt,
  };
}

/** A value of exactly `bytes` ASCII bytes starting with `prefix` (so it can carry a sequence). */
export function paddedValue(prefix: string, bytes: number): string {
  return prefix.length >= bytes ? prefix.slice(0, bytes) : prefix + 'x'.repeat(bytes - prefix.length);
}
