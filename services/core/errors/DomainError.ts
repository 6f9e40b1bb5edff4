// Operating errors of the domain, as plain data. Every edge maps `kind` to its own status in one
// table (services/rpc/errorTable.ts for gRPC); the core never knows about transports.
export type DomainErrorKind =
  | 'invalid-argument' // the request itself is malformed
  | 'wrong-type' // the path exists but holds another kind of value
  | 'not-found'
  | 'too-large'
  | 'unavailable' // not enough reachable nodes for the requested guarantee
  | 'deadline' // the guarantee was not reached within the caller's deadline
  | 'read-only' // this node does not accept writes (replica, witness)
  | 'not-leader'
  | 'conflict' // a compare failed or a bound would be crossed
  | 'unauthenticated' // no or a wrong credential
  | 'permission-denied' // the caller is known, and the access policy does not grant it this
  | 'out-of-range' // a revision that was compacted or lies in the future
  | 'internal';

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  /** Extra facts for the caller (e.g. the voters this node reaches); safe to show. */
  readonly details: Readonly<Record<string, string>>;

  constructor(kind: DomainErrorKind, message: string, details: Record<string, string> = {}) {
    super(message);
    this.name = 'DomainError';
    this.kind = kind;
    this.details = details;
  }
}

/**
 * Detail of a refusal made before the operation took effect, by this node only: it cannot reach
 * a majority, is not the leader and cannot forward, leadership changed before the operation
 * committed, it is stopping or its storage failed, or its role does not take the call. Another
 * node may take the same call, and repeating it cannot make it take effect twice (clients move
 * on to the next node even for writes). Carried as `concord-not-applied: true`.
 */
export const notApplied: Readonly<Record<string, string>> = { 'not-applied': 'true' };

export function invalidArgument(message: string): DomainError {
  return new DomainError('invalid-argument', message);
}
