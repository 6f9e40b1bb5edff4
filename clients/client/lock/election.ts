import { status } from '@grpc/grpc-js';
import { Event_EventType, type KeyValue } from '../../../proto/gen/concord/v1/kv';
import type { ConcordClient } from '../ConcordClient';
import { kvOps } from '../kvOps';
import { abortableSleep } from '../abortableSleep';
import { isServiceError } from '../serviceError';
import { utf8 } from '../txnRanges';
import { acquireLock, contendersPrefix, type HeldLock, type LockClient } from './acquireLock';

// Leader election, as etcd's concurrency.Election: a campaign is a lock under `elections/<name>/`
// whose key holds the candidate's value, so candidates are elected in the order they came, and
// the leader is the key of the election created first. Observers read that key and follow the
// prefix's events, so every change of leader or of its value reaches them, once.

export type ElectionClient = LockClient & Pick<ConcordClient, 'kvTxn'>;

export interface CampaignOptions {
  /** Where the election's keys live (`<prefix><name>/<lease>`); default "elections/". */
  readonly prefix?: string;
  /** TTL of the candidate's lease: how soon a leader that died stops leading (default 10 s). */
  readonly ttlMs?: number;
  /** Give up waiting to be elected after this long (LockTimeoutError). */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

/** This candidate leads: until `resign`, or until `lost` fires. */
export interface Leadership extends HeldLock {
  /** Replaces the value the election shows for its leader; NotLeaderError once it no longer leads. */
  proclaim(value: string): Promise<void>;
  /** Gives leadership up: the next candidate is elected (HeldLock.release). */
  resign(): Promise<void>;
}

/** The election's leader as an observer sees it. */
export interface Leader {
  readonly key: string;
  readonly value: string;
  /** The create revision of the leader's key: every later leader's is greater (a fencing token). */
  readonly fencingToken: bigint;
  readonly lease: bigint;
}

/** A proclaim by a candidate that no longer leads (its key went with its lease, or was deleted). */
export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
}

const electionPrefixDefault = 'elections/';

const electionPrefix = (name: string, prefix = electionPrefixDefault): string => contendersPrefix(name, prefix);

/** Campaigns with `value`: resolves once this candidate leads (every earlier one resigned or died). */
export async function campaign(client: ElectionClient, name: string, value: string, options: CampaignOptions = {}): Promise<Leadership> {
  const held = await acquireLock(client, name, { prefix: options.prefix ?? electionPrefixDefault, ttlMs: options.ttlMs, waitMs: options.waitMs, signal: options.signal, owner: value });
  return {
    ...held,
    resign: () => held.release(),
    proclaim: async (next) => {
      if (held.lost.aborted) throw new NotLeaderError(`no longer the leader of election ${name}: ${String((held.lost.reason as Error | undefined)?.message ?? held.lost.reason)}`);
      // Still this candidate's key, under its lease: the proclaim keeps both.
      const r = await client.kvTxn({
        compare: [kvOps.compare('create', held.key, '=', held.fencingToken), kvOps.compare('lease', held.key, '=', held.lease)],
        success: [kvOps.put(held.key, next, { lease: held.lease })],
      });
      if (!r.succeeded) throw new NotLeaderError(`no longer the leader of election ${name}: its key ${held.key} is gone`);
    },
  };
}

/** The leader now (a linearizable read), or undefined when no candidate campaigns. */
export async function electionLeader(client: Pick<LockClient, 'kvRange'>, name: string, options: { readonly prefix?: string } = {}): Promise<Leader | undefined> {
  const r = await client.kvRange(electionPrefix(name, options.prefix), { prefix: true });
  return leaderOf(r.kvs);
}

/**
 * Every leader of the election from now on: the current one (or undefined: none) first, then
 * each change of leader or of its value, as it commits. Ends when `signal` aborts. A watch that
 * cannot be resumed where it broke (its start compacted away) reads the election again and goes
 * on from there, telling a change it missed at most once.
 */
export async function* observeElection(client: Pick<LockClient, 'kvRange' | 'kvWatch'>, name: string, options: { readonly prefix?: string; readonly signal?: AbortSignal } = {}): AsyncGenerator<Leader | undefined, void, undefined> {
  const prefix = electionPrefix(name, options.prefix);
  let told: Leader | undefined | null = null; // null: nothing told yet
  const tell = (now: Leader | undefined): boolean => {
    if (told !== null && sameLeader(told, now)) return false;
    told = now;
    return true;
  };
  const aborted = (): boolean => options.signal?.aborted === true;
  while (!aborted()) {
    let read;
    try {
      read = await client.kvRange(prefix, { prefix: true });
    } catch (err) {
      // No majority for a while, say: an observer rides it out, as a lock's waiter does.
      if (aborted()) return;
      if (!isServiceError(err) || !transient.has(err.code)) throw err;
      await abortableSleep(observeRetryMs, options.signal);
      continue;
    }
    const candidates = new Map(read.kvs.map((kv) => [kv.key, kv]));
    const first = leaderOf(candidates.values());
    if (tell(first)) yield first;
    try {
      for await (const res of client.kvWatch(prefix, { prefix: true, startRevision: (read.header?.revision ?? 0n) + 1n, signal: options.signal })) {
        for (const e of res.events) {
          if (e.kv === undefined) continue;
          if (e.type === Event_EventType.DELETE) candidates.delete(e.kv.key);
          else candidates.set(e.kv.key, e.kv);
        }
        const now = leaderOf(candidates.values());
        if (tell(now)) yield now;
      }
      return;
    } catch (err) {
      if (aborted()) return;
      // Compacted past where the watch stood, or broken too often in a row (a long outage):
      // read the election again and go on from there.
      if (!isServiceError(err) || (err.code !== status.OUT_OF_RANGE && !transient.has(err.code))) throw err;
      if (err.code !== status.OUT_OF_RANGE) await abortableSleep(observeRetryMs, options.signal);
    }
  }
}

/** Errors an observer waits out and reads again after. */
const transient = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);
const observeRetryMs = 500;

function leaderOf(kvs: Iterable<KeyValue>): Leader | undefined {
  let first: KeyValue | undefined;
  // Candidates' keys are under leases (see acquireLock): one without, written by hand, is none.
  for (const kv of kvs) if (kv.lease !== 0n && (first === undefined || kv.createRevision < first.createRevision)) first = kv;
  return first === undefined ? undefined : { key: first.key, value: utf8(first.value), fencingToken: first.createRevision, lease: first.lease };
}

function sameLeader(a: Leader | undefined, b: Leader | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.key === b.key && a.fencingToken === b.fencingToken && a.value === b.value);
}
