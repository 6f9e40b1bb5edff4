import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { isServiceError } from './serviceError';

// When may a failed attempt be repeated on another node?
//
// 1. The request never left this process: the node's channel could not be brought to READY
//    (connection refused, unreachable, connect timeout). Nothing was sent, so any call, Apply
//    included, moves on to the next node.
// 2. The request was sent (the channel was READY) and the call failed with UNAVAILABLE: the
//    node may or may not have applied it. Repeating is safe only for idempotent calls: Get,
//    List, Status, Watch (re)subscription, and PushUpdate (applying a Yjs update twice is a
//    no-op). Apply is NOT repeated: typed operations such as a counter add or a list insert
//    would take effect twice. The caller gets the UNAVAILABLE and decides.
// 3. The node said it refused before the operation took effect, for a reason of its own
//    (`concord-not-applied: true` with UNAVAILABLE or FAILED_PRECONDITION: it cannot reach a
//    majority, is not the leader and cannot forward, leadership changed first, its storage
//    failed, or it is a replica or a witness). Any call, Apply included, moves on to the next
//    node: it cannot take effect twice, and another node may take it (the majority side of a
//    partition, a master).
// 4. Anything else (DEADLINE_EXCEEDED, INVALID_ARGUMENT, FAILED_PRECONDITION, ...) is the answer
//    and is never repeated: the deadline is one budget for all attempts, and the other errors
//    would repeat on any node.
//
// Each node is tried at most once per logical call, so a call makes at most one attempt per
// endpoint.

export type Idempotency = 'idempotent' | 'not-idempotent';

export type AttemptFailure =
  | { phase: 'not-sent' }
  | { phase: 'sent'; error: unknown };

export function mayRetryOnAnotherNode(idempotency: Idempotency, failure: AttemptFailure): boolean {
  if (failure.phase === 'not-sent') return true;
  if (!isServiceError(failure.error)) return false;
  const { code } = failure.error;
  if ((code === status.UNAVAILABLE || code === status.FAILED_PRECONDITION) && notApplied(failure.error)) return true;
  return idempotency === 'idempotent' && code === status.UNAVAILABLE;
}

/** Trailing metadata of a refusal made before the operation took effect (rule 3). */
export const notAppliedHeader = 'concord-not-applied';

/** Whether the node said it refused before the operation took effect (rule 3). */
function notApplied(error: ServiceError): boolean {
  return error.metadata?.get(notAppliedHeader)[0] === 'true';
}

/**
 * Whether the node refused for its role (a replica asked for a write, a witness for a document):
 * FAILED_PRECONDITION, not applied. The pool then tries it last for that kind of call.
 */
export function refusedForRole(failure: AttemptFailure): boolean {
  return failure.phase === 'sent' && isServiceError(failure.error) && failure.error.code === status.FAILED_PRECONDITION && notApplied(failure.error);
}

/**
 * Whether a watch stream that failed with `error` resubscribes on another node, and why: the
 * node refused the watch for its role (`role`), or went away (`gone`: UNAVAILABLE, or CANCELLED
 * by a node shutting down; a watch never cancels its own stream while reading it). Undefined:
 * the failure is the answer.
 */
export function watchMovesOn(error: unknown): 'role' | 'gone' | undefined {
  if (refusedForRole({ phase: 'sent', error })) return 'role';
  return isServiceError(error) && (error.code === status.UNAVAILABLE || error.code === status.CANCELLED) ? 'gone' : undefined;
}

/** Whether a failure says the node itself cannot serve now (so it is skipped for a while). */
export function marksNodeDown(failure: AttemptFailure): boolean {
  if (failure.phase === 'not-sent') return true;
  return isServiceError(failure.error) && failure.error.code === status.UNAVAILABLE;
}
