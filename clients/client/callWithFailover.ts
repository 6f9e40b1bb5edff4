import { status } from '@grpc/grpc-js';
import type { NodeEndpoint } from './NodeEndpoint';
import type { NodePool } from './NodePool';
import { marksNodeDown, mayRetryOnAnotherNode, refusedForRole, type AttemptFailure, type Idempotency } from './retryRule';
import { serviceError } from './serviceError';

// One logical call over the pool: pick the next node, make sure its channel is READY (so the
// retry rule knows whether the request can have been sent), attempt, and on failure either move
// on to another node or give up, as retryRule.ts decides. All attempts share one deadline.

export interface FailoverCall<T> {
  pool: NodePool;
  idempotency: Idempotency;
  /** Absolute deadline, ms since the epoch, for all attempts together. */
  deadline: number;
  /** Longest wait for one node's connection before it counts as unreachable. */
  connectTimeoutMs: number;
  /** One attempt on one node, with the call's absolute deadline. */
  attempt: (endpoint: NodeEndpoint, deadline: number) => Promise<T>;
  /** Nodes not to try (ones that already refused this call). */
  skip?: ReadonlySet<NodeEndpoint>;
  /** The kind of call (e.g. `documents.write`), so nodes that refuse it for their role are tried last. */
  purpose?: string;
}

export async function callWithFailover<T>(call: FailoverCall<T>): Promise<T> {
  const { pool } = call;
  const tried = new Set<NodeEndpoint>(call.skip);
  const unreachable: NodeEndpoint[] = [];
  let lastError: unknown;
  for (let endpoint = pool.next(tried, call.purpose); endpoint !== undefined; endpoint = pool.next(tried, call.purpose)) {
    tried.add(endpoint);
    const outcome = await endpoint.connect(call.deadline, call.connectTimeoutMs);
    let failure: AttemptFailure;
    if (outcome === 'deadline') {
      throw serviceError(status.DEADLINE_EXCEEDED, `deadline exceeded while connecting to ${endpoint.address}`);
    }
    if (outcome === 'unreachable') {
      unreachable.push(endpoint);
      failure = { phase: 'not-sent' };
    } else {
      try {
        const result = await call.attempt(endpoint, call.deadline);
        pool.markUp(endpoint);
        return result;
      } catch (error) {
        failure = { phase: 'sent', error };
        lastError = error;
      }
    }
    if (marksNodeDown(failure)) pool.markDown(endpoint);
    if (call.purpose !== undefined && refusedForRole(failure)) pool.markRefuses(endpoint, call.purpose);
    if (!mayRetryOnAnotherNode(call.idempotency, failure)) throw lastError;
  }
  if (lastError !== undefined) throw lastError;
  // Why the last one failed, when grpc-js knows (a TLS handshake refused, a connection reset).
  const last = unreachable.at(-1);
  const why = last === undefined ? undefined : await last.lastConnectError(call.deadline);
  const reason = why === undefined ? '' : `; ${last?.address}: ${why}`;
  throw serviceError(status.UNAVAILABLE, `no node reachable (tried ${unreachable.map((e) => e.address).join(', ')}${reason})`);
}
