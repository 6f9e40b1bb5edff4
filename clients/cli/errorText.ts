import { isServiceError, statusName } from '../client/serviceError';

/** One line for a failure shown inside other output (a row of status, a node of a batch). */
export function errorText(error: unknown): string {
  // grpc-js ends connection errors with an empty "Resolution note:"; it only adds noise here.
  if (isServiceError(error)) return `${statusName(error.code)}: ${error.details.replace(/\s*Resolution note:\s*$/, '')}`;
  return error instanceof Error ? error.message : String(error);
}
