import { Metadata, status, type ServiceError } from '@grpc/grpc-js';

// The client reports every failure as a grpc-js ServiceError, including the ones it decides
// locally (no node reachable, deadline spent while connecting), so callers handle one shape.

/** True for errors that carry a gRPC status code (what grpc-js rejects calls with). */
export function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceError>).code === 'number' &&
    typeof (error as Partial<ServiceError>).details === 'string'
  );
}

/** Builds a ServiceError for a failure decided on the client side. */
export function serviceError(code: status, details: string): ServiceError {
  const error = new Error(`${code} ${status[code]}: ${details}`) as ServiceError;
  error.code = code;
  error.details = details;
  error.metadata = new Metadata();
  return error;
}

/**
 * How a node's refusal under its access policy begins. A refusal of one message of a stream (a
 * watch a WatchStream creates) travels as text, as etcd's does; the client turns it back into
 * PERMISSION_DENIED.
 */
export const permissionDeniedPrefix = 'permission denied: ';

/** The canonical status name (`UNAVAILABLE`), or the number when the code is unknown. */
export function statusName(code: number): string {
  return status[code] ?? String(code);
}
