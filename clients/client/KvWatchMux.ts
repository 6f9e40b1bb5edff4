import { status, type ClientDuplexStream } from '@grpc/grpc-js';
import type { KvWatchRequest, KvWatchResponse, KvWatchStreamRequest, KvWatchStreamResponse } from '../../proto/gen/concord/v1/kv';
import { readTooSlowlyPhrase } from '../../services/rpc/WatchQueue';
import { callWithFailover } from './callWithFailover';
import type { NodeEndpoint } from './NodeEndpoint';
import { callPurpose, type NodePool } from './NodePool';
import { watchMovesOn } from './retryRule';
import { isServiceError, permissionDeniedPrefix, serviceError } from './serviceError';

// A client's KV watches carried over shared WatchStream calls, as etcd's clientv3 carries them
// over one Watch stream: one gRPC stream for up to `watchesPerStream` watches instead of one
// call each (a node spends about 6 KB of heap on each call). Every voter streams the same
// revisions and replays from history when asked, so each watch keeps the revision it expects
// next: when a stream breaks (its node died, lost its majority, refused for its role), every
// watch it carried is created again on a stream to another node, from its own next revision,
// and a replayed revision it already delivered is dropped. Nothing is lost, nothing repeated.
// A watch's answers wait in its own queue until its reader takes them: one slow reader never
// holds up the others (nor the stream), and its queue grows instead, as in clientv3. So a
// watch must be read to its end, left (break, return) or aborted: one merely dropped stays open.

export interface KvWatchMuxSettings {
  readonly pool: NodePool;
  /** Longest wait for a stream to open (finding a node that answers). */
  readonly subscribeDeadlineMs: number;
  readonly connectTimeoutMs: number;
  /** Consecutive broken streams without an event in between before a watch fails. */
  readonly resubscribeMax: number;
  /** Watches one stream carries at most (a node takes up to 65,536). */
  readonly watchesPerStream?: number;
}

export interface KvWatchSubscription {
  /** Its start_revision is where the watch begins (> 0: the caller resolves "now"). */
  readonly request: KvWatchRequest;
  /** Absolute time (ms since the epoch) at which the watch fails with DEADLINE_EXCEEDED. */
  readonly deadline?: number;
  /** Aborting ends the iteration (no error). */
  readonly signal?: AbortSignal;
}

interface Watcher {
  readonly id: bigint;
  readonly request: KvWatchRequest;
  /** The revision it expects next: where it is created again after a break. */
  next: bigint;
  readonly queue: (KvWatchResponse | undefined)[];
  head: number;
  /** No more answers: it ended, failed (`failure`), or its reader stopped. */
  done: boolean;
  failure: unknown;
  wake: (() => void) | undefined;
  session: Session | undefined;
  /** Streams that broke under it since its last event. */
  resubscribes: number;
}

interface Session {
  readonly watchers: Map<bigint, Watcher>;
  call: ClientDuplexStream<KvWatchStreamRequest, KvWatchStreamResponse> | undefined;
  endpoint: NodeEndpoint | undefined;
  /** Broken, or retired once empty: it takes no more watches. */
  over: boolean;
}

export const watchesPerStreamDefault = 65_536;

export class KvWatchMux {
  private readonly sessions = new Set<Session>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Every watch not ended, on a stream or between two. */
  private readonly live = new Set<Watcher>();
  private nextId = 1n;
  private closed = false;

  constructor(private readonly settings: KvWatchMuxSettings) {}

  /** The watch's answers, one per revision holding its events, from `request.startRevision` on. */
  async *watch(sub: KvWatchSubscription): AsyncGenerator<KvWatchResponse, void, undefined> {
    if (this.closed) throw serviceError(status.CANCELLED, 'the client was closed');
    const w: Watcher = { id: this.nextId++, request: sub.request, next: sub.request.startRevision, queue: [], head: 0, done: false, failure: undefined, wake: undefined, session: undefined, resubscribes: 0 };
    let aborted = false;
    const abort = (): void => {
      aborted = true;
      this.end(w, undefined);
    };
    if (sub.signal?.aborted) return;
    sub.signal?.addEventListener('abort', abort, { once: true });
    // A delay past a timer's range is no deadline (as grpc-js takes one).
    const delay = sub.deadline === undefined ? Infinity : Math.max(0, sub.deadline - Date.now());
    const timer = delay > timerMaxMs ? undefined : setTimeout(() => this.end(w, serviceError(status.DEADLINE_EXCEEDED, 'the watch reached its deadline')), delay);
    this.live.add(w);
    try {
      this.place(w);
      for (;;) {
        if (aborted) return;
        if (w.head < w.queue.length) {
          const response = w.queue[w.head] as KvWatchResponse;
          w.queue[w.head++] = undefined;
          if (w.head === w.queue.length || w.head >= 1024) {
            w.queue.splice(0, w.head);
            w.head = 0;
          }
          yield response;
          continue;
        }
        if (w.done) {
          if (w.failure !== undefined) throw w.failure;
          return;
        }
        await new Promise<void>((resolve) => {
          w.wake = resolve;
        });
        w.wake = undefined;
      }
    } finally {
      sub.signal?.removeEventListener('abort', abort);
      if (timer !== undefined) clearTimeout(timer);
      this.end(w, undefined);
    }
  }

  /** Ends every stream; the watches still open fail with CANCELLED. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of [...this.sessions]) this.retire(s);
    for (const w of [...this.live]) this.end(w, serviceError(status.CANCELLED, 'the client was closed'));
  }

  /** Open streams (for tests and status). */
  get streams(): number {
    return this.sessions.size;
  }

  /** Puts a watch on a stream with room, opening one if none has. */
  private place(w: Watcher): void {
    if (w.done) return;
    if (this.closed) return this.end(w, serviceError(status.CANCELLED, 'the client was closed'));
    const max = this.settings.watchesPerStream ?? watchesPerStreamDefault;
    let session: Session | undefined;
    for (const s of this.sessions) if (!s.over && s.watchers.size < max) session = s;
    session ??= this.open();
    session.watchers.set(w.id, w);
    w.session = session;
    if (session.call !== undefined) this.create(session, w);
  }

  private open(): Session {
    const s: Session = { watchers: new Map(), call: undefined, endpoint: undefined, over: false };
    this.sessions.add(s);
    callWithFailover({
      pool: this.settings.pool,
      // Opening a stream changes nothing: another node may always be tried.
      idempotency: 'idempotent',
      deadline: Date.now() + this.settings.subscribeDeadlineMs,
      connectTimeoutMs: this.settings.connectTimeoutMs,
      purpose: callPurpose.kv,
      attempt: async (endpoint) => ({ call: endpoint.kv.watchStream(), endpoint }),
    }).then(
      ({ call, endpoint }) => {
        s.call = call;
        s.endpoint = endpoint;
        call.on('data', (m: KvWatchStreamResponse) => this.answer(s, m));
        call.on('error', (e: unknown) => this.broken(s, e));
        call.on('end', () => this.broken(s, serviceError(status.UNAVAILABLE, `the watch stream on ${endpoint.address} ended`)));
        if (s.over) return endQuietly(call);
        for (const w of s.watchers.values()) this.create(s, w);
      },
      (error: unknown) => {
        this.sessions.delete(s);
        s.over = true;
        for (const w of s.watchers.values()) this.end(w, error);
      },
    );
    return s;
  }

  private create(s: Session, w: Watcher): void {
    s.call?.write({ request: { $case: 'create', value: { watch: { ...w.request, startRevision: w.next }, watchId: w.id } } });
  }

  private answer(s: Session, m: KvWatchStreamResponse): void {
    const w = s.watchers.get(m.watchId);
    if (w === undefined || w.done || m.created) return;
    if (m.canceled) {
      // The node ended it (its start was compacted away, or it refused the create): no cancel.
      this.end(w, m.compactRevision > 0n
        ? serviceError(status.OUT_OF_RANGE, `revision ${w.next} has been compacted (up to ${m.compactRevision}); watch from a later revision`)
        : serviceError(m.cancelReason.startsWith(permissionDeniedPrefix) ? status.PERMISSION_DENIED : status.INVALID_ARGUMENT, m.cancelReason || 'the node cancelled the watch'), false);
      return;
    }
    const revision = m.header?.revision ?? 0n;
    // Nodes replay from `next`, so an older revision can only repeat one already delivered.
    if (revision < w.next) return;
    w.next = revision + 1n;
    w.resubscribes = 0;
    w.queue.push({ header: m.header, compactRevision: 0n, events: m.events });
    w.wake?.();
  }

  /** A stream broke: its watches move to another stream, from their own next revisions, or fail. */
  private broken(s: Session, error: unknown): void {
    if (!this.sessions.delete(s)) return;
    s.over = true;
    if (s.call !== undefined) endQuietly(s.call);
    const why = resumesAfter(error);
    const moving: Watcher[] = [];
    for (const w of s.watchers.values()) {
      if (w.done) continue;
      w.session = undefined;
      // A watch fails once streams broke under it too often without an event in between (a
      // node that takes the watch, then loses its majority, again and again).
      if (why === undefined || ++w.resubscribes > this.settings.resubscribeMax) this.end(w, error);
      else moving.push(w);
    }
    if (moving.length === 0) return;
    const endpoint = s.endpoint as NodeEndpoint;
    if (why === 'role') this.settings.pool.markRefuses(endpoint, callPurpose.kv);
    if (why === 'gone') this.settings.pool.markDown(endpoint);
    // A short, growing pause, so a cluster that keeps dropping streams is not hammered.
    const pause = why === 'role' ? 0 : Math.min(1000, 50 * Math.max(...moving.map((w) => w.resubscribes)));
    const t = setTimeout(() => {
      this.timers.delete(t);
      for (const w of moving) this.place(w);
    }, pause);
    this.timers.add(t);
  }

  /** Ends a watch (with `failure`, or quietly) and, unless the node ended it, cancels it on its stream. */
  private end(w: Watcher, failure: unknown, cancel = true): void {
    this.live.delete(w);
    if (!w.done) {
      w.done = true;
      w.failure = failure;
      w.wake?.();
    }
    const s = w.session;
    w.session = undefined;
    if (s === undefined || !s.watchers.delete(w.id) || s.over) return;
    if (s.watchers.size === 0) return this.retire(s);
    if (cancel) s.call?.write({ request: { $case: 'cancel', value: { watchId: w.id } } });
  }

  /** A stream no watch needs: the client ends its side (the node then ends the stream). */
  private retire(s: Session): void {
    this.sessions.delete(s);
    s.over = true;
    if (s.call !== undefined) endQuietly(s.call);
  }
}

/** Longest delay a Node timer takes (a longer one fires at once). */
const timerMaxMs = 2 ** 31 - 1;

/**
 * Whether the watches of a stream that broke with `error` are created again elsewhere, and why:
 * as for one watch (watchMovesOn), and when the node ended the stream because the client read
 * it too slowly (it says to watch again). Any other RESOURCE_EXHAUSTED (an answer over the
 * client's receive limit) would come back with the watch: it is the answer.
 */
function resumesAfter(error: unknown): 'role' | 'gone' | 'slow' | undefined {
  if (isServiceError(error) && error.code === status.RESOURCE_EXHAUSTED) return error.details.startsWith(readTooSlowlyPhrase) ? 'slow' : undefined;
  return watchMovesOn(error);
}

/** Ends a stream nobody reads any more; the CANCELLED it may then report is ours. */
function endQuietly(call: ClientDuplexStream<KvWatchStreamRequest, KvWatchStreamResponse>): void {
  call.removeAllListeners('data');
  call.removeAllListeners('end');
  call.removeAllListeners('error');
  call.on('error', () => undefined);
  call.cancel();
}
