import type { CallOptions } from './ConcordClientOptions';

// Options of the client's authoritative (KvService) calls. int64 fields are bigints on the wire;
// callers may pass numbers where they are small enough to be exact.

/** A value: strings are sent as UTF-8, bytes as they are. */
export type KvValue = string | Uint8Array;

/** An int64 field: a bigint, or a safe integer. */
export type Int64 = bigint | number;

/** Which keys a read, delete or watch covers: `key` alone, every key starting with it, or [key, rangeEnd). */
export interface KvKeyRange {
  /** Every key starting with `key` (etcd's --prefix). */
  prefix?: boolean;
  /** The end of [key, rangeEnd); '\u0000' means every key >= key. Wins over `prefix`. */
  rangeEnd?: string;
}

export interface KvRangeQuery extends KvKeyRange {
  /** At most this many keys (0 or unset: no limit). */
  limit?: Int64;
  /** Read at this revision (0 or unset: the latest). */
  revision?: Int64;
  /** This node's applied state instead of a linearizable read. */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface KvRangeOptions extends KvRangeQuery, CallOptions {}

export interface KvPutOptions extends CallOptions {
  /** Attach the key to this lease (it vanishes when the lease ends). */
  lease?: Int64;
  prevKv?: boolean;
}

export interface KvDeleteOptions extends KvKeyRange, CallOptions {
  prevKv?: boolean;
}

export interface KvWatchOptions extends KvKeyRange {
  /** Replay from this revision; unset or 0: from the revision current when the watch starts. */
  startRevision?: Int64;
  prevKv?: boolean;
  /** Bound on the whole subscription; without it a watch runs until aborted or broken. */
  deadlineMs?: number;
  /** Aborting ends the iteration (quietly) and cancels the stream. */
  signal?: AbortSignal;
}

export interface LeaseGrantOptions extends CallOptions {
  /** Ask for this lease id (unset or 0: the leader chooses). */
  id?: Int64;
}

export interface CounterAddOptions extends CallOptions {
  /** Refuse (FAILED_PRECONDITION) a change that would take the counter below this. */
  floor?: Int64;
  /** Refuse a change that would take the counter above this. */
  ceiling?: Int64;
}
