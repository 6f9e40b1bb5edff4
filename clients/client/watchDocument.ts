import type { ClientReadableStream } from '@grpc/grpc-js';
import type { WatchEvent, WatchRequest } from '../../proto/gen/concord/v1/documents';
import { callWithFailover } from './callWithFailover';
import type { NodeEndpoint } from './NodeEndpoint';
import { callPurpose, type NodePool } from './NodePool';
import { watchMovesOn } from './retryRule';

// A document subscription as an async iterable that survives node failures: when the stream
// breaks with UNAVAILABLE (or CANCELLED: a node shutting down) it resubscribes on another node from the last version received, so
// the caller sees one gap-free sequence of updates. Subscribing is idempotent, so this is within
// the retry rule. A clean end of the stream by the server, or the caller's abort signal, ends
// the iteration; `break` in a for-await cancels the stream.

export interface WatchSettings {
  pool: NodePool;
  request: WatchRequest;
  /** Bound on establishing each (re)subscription's connection. */
  subscribeDeadlineMs: number;
  connectTimeoutMs: number;
  /** Absolute deadline for the whole subscription, if any (a watch is open-ended by default). */
  deadline: number | undefined;
  /** Consecutive resubscriptions without an event in between before giving up. */
  resubscribeMax: number;
  signal: AbortSignal | undefined;
  onEvent: (event: WatchEvent) => void;
}

export async function* watchDocument(settings: WatchSettings): AsyncGenerator<WatchEvent, void, undefined> {
  let fromVersion = settings.request.fromVersion;
  let resubscribes = 0;
  for (;;) {
    if (settings.signal?.aborted) return;
    const { stream, endpoint } = await callWithFailover({
      pool: settings.pool,
      idempotency: 'idempotent',
      deadline: Math.min(settings.deadline ?? Infinity, Date.now() + settings.subscribeDeadlineMs),
      connectTimeoutMs: settings.connectTimeoutMs,
      purpose: callPurpose.documentRead,
      attempt: async (endpoint: NodeEndpoint) => {
        const options = settings.deadline === undefined ? {} : { deadline: settings.deadline };
        return { stream: endpoint.documents.watch({ ...settings.request, fromVersion }, options), endpoint };
      },
    });
    const abort = (): void => stream.cancel();
    settings.signal?.addEventListener('abort', abort, { once: true });
    try {
      for await (const event of stream as AsyncIterable<WatchEvent>) {
        resubscribes = 0;
        if (event.version.length > 0) fromVersion = event.version;
        settings.onEvent(event);
        yield event;
      }
      return;
    } catch (error) {
      // Aborting is how the caller stops watching: it ends the iteration, it is not a failure.
      if (settings.signal?.aborted) return;
      // A node that holds no documents (a witness), or one going away: subscribe on another.
      const why = watchMovesOn(error);
      if (why === undefined || ++resubscribes > settings.resubscribeMax) throw error;
      if (why === 'role') settings.pool.markRefuses(endpoint, callPurpose.documentRead);
      else settings.pool.markDown(endpoint);
    } finally {
      settings.signal?.removeEventListener('abort', abort);
      endStream(stream);
    }
  }
}

/** Cancels a stream the caller stopped reading; the CANCELLED it then reports is ours. */
function endStream(stream: ClientReadableStream<WatchEvent>): void {
  stream.on('error', () => undefined);
  stream.cancel();
}
