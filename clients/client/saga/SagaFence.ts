/**
 * A saga's record as one step attempt began: while the runner still holds the saga (its owner
 * key holds `token`) and the record is at `revision`, the attempt is the saga's current one.
 * Any later write of the record (the attempt's outcome, a retry, another runner taking over)
 * moves the revision, so a step's effect written under this fence (kvOnce puts these compares in
 * its transaction) cannot land after the saga has moved past the attempt.
 */
export interface SagaFence {
  readonly ownerKey: string;
  readonly token: string;
  readonly recordKey: string;
  readonly revision: bigint;
}

/** This runner lost the saga while driving it (its lease ended, or the saga moved past the attempt): it stops. */
export class SagaLostError extends Error {
  override name = 'SagaLostError';
}
