import { status } from '@grpc/grpc-js';
import { Event_EventType } from '../../../proto/gen/concord/v1/kv';
import type { ConcordClient } from '../ConcordClient';
import { abortableSleep } from '../abortableSleep';
import { isServiceError } from '../serviceError';

export type LockClient = Pick<ConcordClient, 'kvRange' | 'kvPut' | 'kvWatch' | 'leaseGrant' | 'leaseKeepAlive' | 'leaseRevoke'>;

export interface LockOptions {
  /** Where the lock's keys live (`<prefix><name>/<lease>`); default "locks/". */
  readonly prefix?: string;
  /** TTL of the holder's lease: how soon a holder that died stops holding (default 10 s, at least 1 s). */
  readonly ttlMs?: number;
  /** Give up waiting after this long (LockTimeoutError); default: wait as long as it takes. */
  readonly waitMs?: number;
  /** Aborting gives up waiting (the signal's reason is thrown). */
  readonly signal?: AbortSignal;
  /** Stored as the holder key's value, for operators (`concord kv get locks/<name> --prefix`). */
  readonly owner?: string;
}

/** A lock held: until `release`, or until `lost` fires. */
export interface HeldLock {
  /** The holder's key, under its lease. */
  readonly key: string;
  /**
   * The create revision of the holder's key: every later holder of this lock has a greater one.
   * Pass it with every write the lock guards, and have the guarded side refuse a token smaller
   * than one it has seen, so a holder that lost the lock unawares (paused past its TTL) cannot
   * act on it.
   */
  readonly fencingToken: bigint;
  readonly lease: bigint;
  /**
   * Fires when the lock may be lost: the lease could not be renewed within its TTL, or it ended,
   * or the holder's key went (deleted by hand, or its lease revoked elsewhere) or was written
   * over without its lease.
   */
  readonly lost: AbortSignal;
  /**
   * Gives the lock up (its key and lease go); harmless twice. Rejects when the lease may not have
   * been revoked (three tries failed, the cluster unreachable): the lock then frees itself once
   * the lease ends, within its TTL. Until released (or lost), a held lock keeps a watch open on
   * its key, which keeps the process alive.
   */
  release(): Promise<void>;
}

/** Times `release` revokes the lease before it gives up (see HeldLock.release). */
const revokeAttempts = 3;

/** Where the contenders for `name` keep their keys (a lock's, or an election's): `<prefix><name>/`. */
export function contendersPrefix(name: string, prefix: string): string {
  if (name === '' || name.includes('/')) throw new Error(`a lock or election name must be non-empty and hold no '/', got ${JSON.stringify(name)}`);
  return `${prefix}${name}/`;
}

/** Waiting for a lock took longer than `waitMs`: nothing is held, and this contender's key is gone. */
export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

/**
 * Acquires the lock `name` in the authoritative KV store, as etcd's concurrency.Mutex does:
 * the contender writes `<prefix><name>/<lease>` under a lease of its own (kept alive while it
 * waits and holds), and holds the lock once no key of the lock was created before its own.
 * Until then it watches only the key created just before its own, so a release wakes one
 * waiter, and waiters are served in the order they came. A holder that dies stops holding
 * when its lease ends (`ttlMs`); the fencing token (its key's create revision) lets the guarded
 * side refuse a holder that has lost the lock and does not know it yet.
 */
export async function acquireLock(client: LockClient, name: string, options: LockOptions = {}): Promise<HeldLock> {
  const prefix = contendersPrefix(name, options.prefix ?? 'locks/');
  const ttlMs = Math.max(1000, Math.round(options.ttlMs ?? 10_000));
  const granted = Date.now(); // the leader's clock starts after this: counting from here errs early
  const waitUntil = options.waitMs === undefined ? undefined : granted + options.waitMs; // the grant counts too
  const grant = await client.leaseGrant(ttlMs);
  const lease = grant.id;
  const key = `${prefix}${lease.toString(16)}`;
  const lost = new AbortController();
  const stopWaiting = new AbortController();
  let released: Promise<void> | undefined;
  // The lock counts as lost once the lease may have ended: at its deadline unless a renewal
  // moved it, or when the node says the lease is gone.
  let validUntil = granted + ttlMs;
  const loseAt = (): void => {
    if (released === undefined) lost.abort(new Error(`the lease of lock ${name} may have ended: no renewal reached the cluster within its TTL of ${ttlMs} ms`));
  };
  let deadline = setTimeout(loseAt, Math.max(0, validUntil - Date.now()));
  deadline.unref?.();
  const renew = async (): Promise<void> => {
    const sent = Date.now();
    try {
      await client.leaseKeepAlive(lease, { deadlineMs: Math.max(100, validUntil - sent) });
      if (released !== undefined || lost.signal.aborted) return;
      // A renewal sent after the deadline may have raced the lease's expiry.
      if (sent >= validUntil) return loseAt();
      validUntil = sent + ttlMs;
      clearTimeout(deadline);
      deadline = setTimeout(loseAt, Math.max(0, validUntil - Date.now()));
      deadline.unref?.();
    } catch (err) {
      if (released === undefined && isServiceError(err) && err.code === status.NOT_FOUND) lost.abort(new Error(`the lease of lock ${name} ended (${err.details})`));
      // Other failures: tried again at the next tick, until the deadline says lost.
    }
  };
  const timer = setInterval(() => void renew(), Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref?.();
  const stopTimers = (): void => {
    clearInterval(timer);
    clearTimeout(deadline);
  };
  // Ends the watch on the holder's own key (see watchOwnKey).
  const holding = new AbortController();
  lost.signal.addEventListener('abort', () => {
    stopTimers();
    holding.abort();
    stopWaiting.abort(lost.signal.reason);
  }, { once: true });
  /** Gives the lock up: its lease goes, and its key with it. */
  const release = (): Promise<void> => {
    released ??= (async () => {
      stopTimers();
      holding.abort();
      // A revoke that failed on its way may have been applied: tried again (gone counts as
      // released), a few times within the TTL.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.leaseRevoke(lease);
          return;
        } catch (err) {
          if (isServiceError(err) && err.code === status.NOT_FOUND) return;
          if (attempt >= revokeAttempts) throw new Error(`lock ${name}: its lease may not have been revoked (${isServiceError(err) ? err.details : String(err)}); the lock frees itself when the lease ends, within ${ttlMs} ms`);
          await abortableSleep(Math.min(200 * attempt, ttlMs / 10));
        }
      }
    })();
    return released;
  };
  /**
   * Watches the holder's key from `from` on: its deletion (by hand, or its lease revoked by
   * another client) means the next contender may hold the lock already, whatever the renewals
   * of a lease still alive say. A watch that cannot go on (its start compacted away, the
   * cluster unreachable for a while) reads the key again and watches on from there.
   */
  const watchOwnKey = async (token: bigint, from: bigint): Promise<void> => {
    const gone = (how: string): void => {
      if (released === undefined) lost.abort(new Error(`the key of lock ${name} (${key}) ${how}: another contender may hold the lock`));
    };
    const deleted = 'was deleted (by hand, or its lease was revoked or ended)';
    // Written over without this lease (by hand), it would outlive the lease and block the lock.
    const overwritten = 'was written over without its lease';
    let next = from;
    while (!holding.signal.aborted) {
      try {
        for await (const res of client.kvWatch(key, { startRevision: next, signal: holding.signal })) {
          if (res.events.some((e) => e.type === Event_EventType.DELETE)) return gone(deleted);
          if (res.events.some((e) => e.kv !== undefined && e.kv.lease !== lease)) return gone(overwritten);
          next = (res.header?.revision ?? next - 1n) + 1n;
        }
      } catch {
        // Read the key itself below.
      }
      if (holding.signal.aborted) return;
      await abortableSleep(Math.min(1000, Math.max(100, Math.floor(ttlMs / 3))), holding.signal);
      if (holding.signal.aborted) return;
      try {
        const now = await client.kvRange(key);
        const kv = now.kvs[0];
        if (kv === undefined || kv.createRevision !== token) return gone(deleted);
        if (kv.lease !== lease) return gone(overwritten);
        next = (now.header?.revision ?? 0n) + 1n;
      } catch {
        // Unreachable: the lease's deadline tells when the lock counts as lost.
      }
    }
  };

  const onAbort = (): void => stopWaiting.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const waitTimer = waitUntil === undefined ? undefined : setTimeout(() => stopWaiting.abort(new LockTimeoutError(`lock ${name} was not acquired within ${options.waitMs} ms; nothing is held`)), Math.max(0, waitUntil - Date.now()));
  try {
    if (options.signal?.aborted === true) throw options.signal.reason;
    await client.kvPut(key, options.owner ?? '', { lease });
    for (;;) {
      if (stopWaiting.signal.aborted) throw stopWaiting.signal.reason;
      const all = await client.kvRange(prefix, { prefix: true });
      const mine = all.kvs.find((kv) => kv.key === key);
      if (mine === undefined) throw new Error(`the key of lock ${name} is gone (its lease ended while waiting); nothing is held`);
      let before: (typeof all.kvs)[number] | undefined;
      // Every contender's key is under a lease: one without (written by hand) contends for nothing.
      for (const kv of all.kvs) if (kv.lease !== 0n && kv.createRevision < mine.createRevision && (before === undefined || kv.createRevision > before.createRevision)) before = kv;
      if (before === undefined) {
        // Lost, or given up on, while the last read was on its way: not held after all.
        if (stopWaiting.signal.aborted) throw stopWaiting.signal.reason;
        void watchOwnKey(mine.createRevision, (all.header?.revision ?? 0n) + 1n);
        return { key, fencingToken: mine.createRevision, lease, lost: lost.signal, release };
      }
      // Wait for the key just before ours to go (released, or its lease ended).
      try {
        for await (const res of client.kvWatch(before.key, { startRevision: (all.header?.revision ?? 0n) + 1n, signal: stopWaiting.signal })) {
          if (res.events.some((e) => e.type === Event_EventType.DELETE)) break;
        }
      } catch (err) {
        // A watch whose start was compacted away, or that could not be resumed: read again.
        if (!isServiceError(err) || (err.code !== status.OUT_OF_RANGE && err.code !== status.UNAVAILABLE)) throw err;
      }
    }
  } catch (err) {
    // The failure to report is the wait's; an unrevoked lease ends with its TTL.
    await release().catch(() => undefined);
    throw stopWaiting.signal.aborted ? stopWaiting.signal.reason : err;
  } finally {
    if (waitTimer !== undefined) clearTimeout(waitTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
