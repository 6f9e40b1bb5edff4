import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { StatusResponse } from '../../proto/gen/concord/v1/admin';
import type { Ack } from './ackLevel';
import type { TlsFiles } from './tlsFiles';

// Options of ConcordClient and of its calls. Durations are in ms; deadlines cover one logical
// call, every attempt on every node included.

export interface ConcordClientOptions {
  /** Node addresses, `host:port`. */
  endpoints: readonly string[];
  /** Default deadline of one call (default 5000). */
  deadlineMs?: number;
  /** Remember the versions this client saw and read at least them (read-your-writes). */
  session?: boolean;
  /** How long a failed node is skipped before it is probed again (default 2000). */
  cooldownMs?: number;
  /** Deadline of one background health probe (default 1000). */
  probeDeadlineMs?: number;
  /** Probe healthy nodes this often too; 0 (default) probes only after failures. */
  healthCheckIntervalMs?: number;
  /** Longest wait for one node's connection before trying the next (default 1500). */
  connectTimeoutMs?: number;
  /** Consecutive watch resubscriptions without an event before the watch fails (default 10). */
  watchResubscribeMax?: number;
  /** The cluster's admin credential, sent as `authorization: Bearer` on guarded admin calls. */
  adminToken?: string;
  /**
   * Mutual TLS to nodes started with --tls-cert/--tls-key/--tls-ca: this client's certificate
   * and key, and the cluster's CA (read and checked when the client is made).
   */
  tls?: TlsFiles;
  /** Any other channel credentials (`tls` takes precedence). Default: insecure (loopback development clusters). */
  credentials?: ChannelCredentials;
  channelOptions?: ChannelOptions;
}

export interface CallOptions {
  deadlineMs?: number;
}

export interface WriteOptions extends CallOptions {
  /** Durability before the ack (default local). */
  ack?: Ack;
}

export interface GetOptions extends CallOptions {
  /** Read at least this version (merged with the session's when `session` is on). */
  minVersion?: Uint8Array;
  /** With includeUpdate: return only what this state vector lacks. */
  stateVector?: Uint8Array;
  includeUpdate?: boolean;
}

export interface WatchOptions {
  /** Resume after this version; empty or unset sends the whole document first. */
  fromVersion?: Uint8Array;
  includeJson?: boolean;
  /** Bound on the whole subscription; without it a watch runs until aborted or broken. */
  deadlineMs?: number;
  /** Aborting ends the iteration (quietly) and cancels the stream. */
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  startAfter?: string;
  /** Default 100 on the node, max 10000. */
  limit?: number;
}

export interface SetLinkFaultsOptions extends CallOptions {
  /** True: every link of the node that is not listed is healed; false: listed links change only. */
  replace?: boolean;
}

export interface LedgerOptions extends CallOptions {
  /** Newest episodes to return (the node's default is 20, its maximum 200). */
  limit?: number;
}

export type NodeStatusResult =
  | { address: string; ok: true; status: StatusResponse }
  | { address: string; ok: false; error: unknown };
