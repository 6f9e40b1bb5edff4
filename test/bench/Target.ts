/** One target of issue 7, as measured in this run. */
export interface Target {
  readonly target: string;
  /** What was measured, e.g. "1.62x" or "412 ms". */
  readonly measured: string;
  readonly goal: string;
  /** undefined when it could not be measured (a reference skipped, a scenario not run). */
  readonly met: boolean | undefined;
  readonly note?: string;
  /**
   * The same ratio for a bare grpc-js echo with the same client (scenario 5), where it bounds
   * what any server on this transport can reach, e.g. "<= 1.40x"; undefined where it does not.
   */
  readonly bound?: string;
  /** The goal lies beyond that bound: no server answering over grpc-js could meet it here. */
  readonly beyondBound?: boolean;
  /**
   * For a throughput target: the CPU per call behind both rows (the nodes' and the load
   * generator's) and what the goal asks of the nodes at equal CPU (see cpuAtEqualUse). Shown
   * as a line under the targets table.
   */
  readonly cpu?: string;
  /** A number the issue asks to report, without a goal: shown as a line under the targets table. */
  readonly reportOnly?: boolean;
}
