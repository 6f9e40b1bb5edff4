import { status, type ClientReadableStream } from '@grpc/grpc-js';
import type { KvWatchRequest, KvWatchResponse } from '../../proto/gen/concord/v1/kv';
import { callWithFailover } from './callWithFailover';
import type { NodeEndpoint } from './NodeEndpoint';
import { callPurpose, type NodePool } from './NodePool';
import { watchMovesOn } from './retryRule';
import { serviceError } from './serviceError';

// A KV watch as one Watch call of its own, for nodes of an earlier version that have no
// WatchStream (ConcordClient.kvWatch otherwise multiplexes, KvWatchMux.ts). An async iterable
// that survives node failures without losing or repeating an event. Every voter streams the
// same revisions (one response per revision, replayed from history when asked), so after a
// break the watch resubscribes on another node from the last revision received + 1.
// A stream that ends cleanly also resumes elsewhere: a KV watch only ends when its node stops.
// Any other error (OUT_OF_RANGE for a compacted start, INVALID_ARGUMENT) ends the iteration.

export interface KvWatchSettings {
  pool: NodePool;
  /** Its start_revision (> 0) is where the watch begins. */
  request: KvWatchRequest;
  subscribeDeadlineMs: number;
  connectTimeoutMs: number;
  /** Absolute deadline for the whole subscription, if any. */
  deadline: number | undefined;
  /** Consecutive resubscriptions without a response in between before giving up. */
  resubscribeMax: number;
  signal: AbortSignal | undefined;
}

export async function* watchKv(settings: KvWatchSettings): AsyncGenerator<KvWatchResponse, void, undefined> {
  const { request, pool } = settings;
  let next = request.startRevision;
  let resubscribes = 0;
  for (;;) {
    if (settings.signal?.aborted) return;
    const { stream, endpoint } = await callWithFailover({
      pool,
      idempotency: 'idempotent',
      deadline: Math.min(settings.deadline ?? Infinity, Date.now() + settings.subscribeDeadlineMs),
      connectTimeoutMs: settings.connectTimeoutMs,
      purpose: callPurpose.kv,
      attempt: async (endpoint: NodeEndpoint) => {
        const options = settings.deadline === undefined ? {} : { deadline: settings.deadline };
        return { stream: endpoint.kv.watch({ ...request, startRevision: next }, options), endpoint };
      },
    });
    const abort = (): void => stream.cancel();
    settings.signal?.addEventListener('abort', abort, { once: true });
    let failure: unknown = serviceError(status.UNAVAILABLE, `the watch stream on ${endpoint.address} ended`);
    let why: 'role' | 'gone' = 'gone';
    try {
      for await (const response of stream as AsyncIterable<KvWatchResponse>) {
        resubscribes = 0;
        if (response.compactRevision > 0n) {
          throw serviceError(status.OUT_OF_RANGE, `revision ${next} has been compacted (up to ${response.compactRevision}); watch from a later revision`);
        }
        const revision = response.header?.revision ?? 0n;
        // Nodes replay from `next`, so an older revision can only repeat one already delivered.
        if (revision < next) continue;
        next = revision + 1n;
        yield response;
      }
    } catch (error) {
      // Aborting is how the caller stops watching: it ends the iteration, it is not a failure.
      if (settings.signal?.aborted) return;
      // A node that is not a voter (a replica), or one going away: subscribe on another.
      const movesOn = watchMovesOn(error);
      if (movesOn === undefined) throw error;
      why = movesOn;
      failure = error;
    } finally {
      settings.signal?.removeEventListener('abort', abort);
      endStream(stream);
    }
    if (settings.signal?.aborted) return;
    if (++resubscribes > settings.resubscribeMax) throw failure;
    if (why === 'role') {
      pool.markRefuses(endpoint, callPurpose.kv);
      continue;
    }
    pool.markDown(endpoint);
    // A short, growing pause, so a cluster that keeps dropping streams is not hammered.
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * resubscribes)));
  }
}

/** Cancels a stream the caller stopped reading; the CANCELLED it then reports is ours. */
function endStream(stream: ClientReadableStream<KvWatchResponse>): void {
  stream.on('error', () => undefined);
  stream.cancel();
}
