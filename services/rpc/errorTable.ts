import { Metadata, status, ServiceError } from '@grpc/grpc-js';
import { DomainError, DomainErrorKind } from '../core/errors/DomainError';

/** The one table from domain errors to gRPC status codes. */
export const errorTable: Readonly<Record<DomainErrorKind, status>> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'wrong-type': status.FAILED_PRECONDITION,
  'not-found': status.NOT_FOUND,
  'too-large': status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  deadline: status.DEADLINE_EXCEEDED,
  'read-only': status.FAILED_PRECONDITION,
  'not-leader': status.UNAVAILABLE,
  conflict: status.FAILED_PRECONDITION,
  unauthenticated: status.UNAUTHENTICATED,
  'permission-denied': status.PERMISSION_DENIED,
  'out-of-range': status.OUT_OF_RANGE,
  internal: status.INTERNAL,
};

/**
 * Converts anything thrown by a handler into a gRPC error. Domain errors keep their message and
 * carry their details as `concord-*` trailing metadata; anything else is a bug: INTERNAL, with
 * the message only (no stack traces to clients).
 */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof DomainError) {
    for (const [k, v] of Object.entries(err.details)) metadata.set(`concord-${k}`, v);
    return { code: errorTable[err.kind], details: err.message, metadata };
  }
  if (isServiceError(err)) {
    // An error relayed from another node (a forwarded call) keeps its status and details.
    return { code: err.code, details: err.details, metadata: err.metadata ?? metadata };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: `internal error: ${message}`, metadata };
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && typeof (err as Partial<ServiceError>).details === 'string';
}
