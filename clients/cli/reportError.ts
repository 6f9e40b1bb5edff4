import { status } from '@grpc/grpc-js';
import { CommanderError } from 'commander';
import { isServiceError, statusName } from '../client/serviceError';

// One place that turns a failure into the CLI's stderr line and exit code:
//   usage errors (bad arguments, unknown options)  -> exit 2
//   gRPC failures  -> `error: <STATUS NAME>: <details>`, plus the node's concord-* trailers -> exit 1
//                     (UNAVAILABLE ends with `(reachable voters: n1)` when the node said which)
//   anything else  -> `error: <message>` -> exit 1

export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

/** A usage error found after commander's parsing (e.g. options that conflict). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function reportError(error: unknown, write: (line: string) => void): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help); only the exit code is left.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) {
      return exitCodes.ok;
    }
    return exitCodes.usage;
  }
  if (error instanceof UsageError) {
    write(`error: ${error.message}`);
    return exitCodes.usage;
  }
  if (isServiceError(error)) {
    // The node's error table puts structured details (e.g. reachable voters) in concord-* trailers.
    const trailers = Object.entries(error.metadata?.getMap() ?? {})
      .filter(([key, value]) => key.startsWith('concord-') && String(value) !== '')
      .map(([key, value]) => [key.slice('concord-'.length), String(value)] as const);
    // Which voters a refusing minority node reaches is the point of its error: keep it on the line.
    const voters = error.code === status.UNAVAILABLE ? trailers.find(([key]) => key === 'reachable-voters')?.[1] : undefined;
    const suffix = voters === undefined ? '' : ` (reachable voters: ${voters.split(',').join(', ')})`;
    write(`error: ${statusName(error.code)}: ${error.details}${suffix}`);
    for (const [key, value] of trailers) if (voters === undefined || key !== 'reachable-voters') write(`  ${key}: ${value}`);
    return exitCodes.failure;
  }
  write(`error: ${error instanceof Error ? error.message : String(error)}`);
  return exitCodes.failure;
}
