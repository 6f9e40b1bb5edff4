/** One row of results: a system running one workload, measured over several rounds. */
export interface Measurement {
  readonly scenario: string;
  readonly system: string;
  readonly workload: string;
  readonly clients: number;
  /** Per round metrics (opsPerSec, p50Ms, p99Ms, lagP50Ms, ...). */
  readonly rounds: Record<string, number>[];
  /** Median of each metric over the rounds. */
  readonly median: Record<string, number>;
  /** Why the row has no numbers (a reference not installed, a step that failed). */
  readonly skipped?: string;
  readonly note?: string;
}

/** A way to run one round of one row, alternated with the other rows of its comparison. */
export interface Variant {
  readonly system: string;
  readonly workload: string;
  readonly clients: number;
  readonly note?: string;
  /** Why this variant cannot run (the row is reported as skipped). */
  readonly skipped?: string;
  run(): Promise<Record<string, number>>;
  /**
   * An unmeasured run before the first measured round (see BenchOptions.warmupRoundMs), so the
   * rounds compare systems in their steady state rather than a fresh process's first minutes.
   */
  warmUp?(): Promise<unknown>;
}
