import { credentials as grpcCredentials, status } from '@grpc/grpc-js';
import type { LedgerResponse, LinkFault, SetLinkFaultsResponse, StatusResponse, WhoAmIResponse } from '../../proto/gen/concord/v1/admin';
import type { GetResponse, ListResponse, Operation, WatchEvent, WriteResponse } from '../../proto/gen/concord/v1/documents';
import type * as kv from '../../proto/gen/concord/v1/kv';
import { ackLevel } from './ackLevel';
import { callWithFailover } from './callWithFailover';
import type {
  CallOptions,
  ConcordClientOptions,
  GetOptions,
  LedgerOptions,
  ListOptions,
  NodeStatusResult,
  SetLinkFaultsOptions,
  WatchOptions,
  WriteOptions,
} from './ConcordClientOptions';
import type * as o from './KvOptions';
import { counterAddRequest, deleteRequest, int64, putRequest, rangeRequest, watchRequest } from './kvRequests';
import { DocumentWriter } from './DocumentWriter';
import type { NodeEndpoint } from './NodeEndpoint';
import { callPurpose, NodePool } from './NodePool';
import type { Idempotency } from './retryRule';
import { SessionVersions } from './SessionVersions';
import { unaryCall, type UnaryMethod } from './unaryCall';
import { watchDocument } from './watchDocument';
import { KvWatchMux } from './KvWatchMux';
import { isServiceError } from './serviceError';
import { watchKv } from './watchKv';
import { tlsChannelCredentials } from './tlsCredentials';

// The Concord client over a list of node addresses: round robin over healthy nodes, failover
// only where retryRule.ts allows it, a deadline on every call, optional session consistency.
// Typical use:
//   const client = new ConcordClient({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7002'], session: true });
//   await client.apply('demo/hello', [ops.set('greeting.text', 'hi')], { ack: 'quorum' });
//   const { json } = await client.get('demo/hello'); // sees the write, whichever node answers
//   await client.counterAdd('wallet/alice', -30, { floor: 0 }); // authoritative: refused below 0

export class ConcordClient {
  private readonly pool: NodePool;
  private readonly session: SessionVersions | undefined;
  private readonly deadlineMs: number;
  private readonly connectTimeoutMs: number;
  private readonly watchResubscribeMax: number;
  private readonly adminHeaders: Readonly<Record<string, string>>;
  private readonly kvWatches: KvWatchMux;
  /** A node answered WatchStream with UNIMPLEMENTED (an earlier version): watches go one call each. */
  private watchStreamMissing = false;

  constructor(options: ConcordClientOptions) {
    this.adminHeaders = options.adminToken ? { authorization: `Bearer ${options.adminToken}` } : {};
    this.deadlineMs = options.deadlineMs ?? 5000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1500;
    this.watchResubscribeMax = options.watchResubscribeMax ?? 10;
    this.session = options.session ? new SessionVersions() : undefined;
    this.pool = new NodePool(options.endpoints, {
      credentials: options.tls !== undefined ? tlsChannelCredentials(options.tls) : (options.credentials ?? grpcCredentials.createInsecure()),
      // A short reconnect backoff so a node that comes back is re-admitted in seconds (the
      // grpc-js default grows to two minutes).
      channelOptions: {
        // As much as a node sends in one message (a watch's revision, a range): grpc-js's 4 MiB
        // default failed answers the node had sent.
        'grpc.max_receive_message_length': 64 << 20,
        'grpc.initial_reconnect_backoff_ms': 250,
        'grpc.max_reconnect_backoff_ms': 2000,
        // No channelz bookkeeping: a few percent of every call's CPU, for a service nobody reads.
        'grpc.enable_channelz': 0,
        ...options.channelOptions,
      },
      cooldownMs: options.cooldownMs ?? 2000,
      probeDeadlineMs: options.probeDeadlineMs ?? 1000,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 0,
    });
    this.kvWatches = new KvWatchMux({
      pool: this.pool,
      subscribeDeadlineMs: this.deadlineMs,
      connectTimeoutMs: this.connectTimeoutMs,
      resubscribeMax: this.watchResubscribeMax,
    });
  }

  /** Applies typed operations in one transaction. Repeated on another node only when never sent, or refused as not applied (retryRule.ts). */
  async apply(documentId: string, operations: readonly Operation[], options: WriteOptions = {}): Promise<WriteResponse> {
    const request = { documentId, operations: [...operations], ack: ackLevel(options.ack) };
    const response = await this.call(
      'not-idempotent',
      options,
      (node, deadline) => unaryCall(node.documents.apply.bind(node.documents), request, deadline),
      callPurpose.documentWrite,
    );
    this.session?.observe(documentId, response.version);
    return response;
  }

  /**
   * A streamed write path: `writer.apply(...)` like `apply`, but many writes share one stream to
   * one node (much cheaper per small write). Close it when done.
   */
  writer(): DocumentWriter {
    return new DocumentWriter({
      pool: this.pool,
      connectTimeoutMs: this.connectTimeoutMs,
      deadlineMs: this.deadlineMs,
      onWritten: (documentId, response) => this.session?.observe(documentId, response.version),
    });
  }

  /** Pushes a raw Yjs update (v1). Applying an update twice is a no-op, so it is retried. */
  async pushUpdate(documentId: string, update: Uint8Array, options: WriteOptions = {}): Promise<WriteResponse> {
    const request = { documentId, update: Buffer.from(update), ack: ackLevel(options.ack) };
    const response = await this.call(
      'idempotent',
      options,
      (node, deadline) => unaryCall(node.documents.pushUpdate.bind(node.documents), request, deadline),
      callPurpose.documentWrite,
    );
    this.session?.observe(documentId, response.version);
    return response;
  }

  async get(documentId: string, options: GetOptions = {}): Promise<GetResponse> {
    const minVersion = this.session ? this.session.minVersion(documentId, options.minVersion) : options.minVersion;
    const request = {
      documentId,
      minVersion: Buffer.from(minVersion ?? []),
      stateVector: Buffer.from(options.stateVector ?? []),
      includeUpdate: options.includeUpdate ?? false,
    };
    const response = await this.call(
      'idempotent',
      options,
      (node, deadline) => unaryCall(node.documents.get.bind(node.documents), request, deadline),
      callPurpose.documentRead,
    );
    this.session?.observe(documentId, response.version);
    return response;
  }

  /** Subscribes to a document; resubscribes on another node when the stream breaks. */
  watch(documentId: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    return watchDocument({
      pool: this.pool,
      request: {
        documentId,
        fromVersion: Buffer.from(options.fromVersion ?? []),
        includeJson: options.includeJson ?? false,
      },
      subscribeDeadlineMs: this.deadlineMs,
      connectTimeoutMs: this.connectTimeoutMs,
      deadline: options.deadlineMs === undefined ? undefined : Date.now() + options.deadlineMs,
      resubscribeMax: this.watchResubscribeMax,
      signal: options.signal,
      onEvent: (event) => this.session?.observe(documentId, event.version),
    });
  }

  /** One page of document ids starting with `prefix`; continue with `startAfter`. */
  list(prefix = '', options: ListOptions = {}): Promise<ListResponse> {
    const request = { prefix, startAfter: options.startAfter ?? '', limit: options.limit ?? 0 };
    return this.call(
      'idempotent',
      options,
      (node, deadline) => unaryCall(node.documents.list.bind(node.documents), request, deadline),
      callPurpose.documentRead,
    );
  }

  // Authoritative KV (KvService). Any voter serves them (followers forward writes to the
  // leader). Retries follow retryRule.ts: reads and keep-alives are idempotent; writes, grants,
  // revokes, counter adds and compactions are repeated only when they were never sent, or the
  // node said they were not applied (no quorum there, a replica).

  /** Reads a key or range; linearizable unless `serializable`. */
  kvRange(key: string, options: o.KvRangeOptions = {}): Promise<kv.RangeResponse> {
    return this.kvCall('idempotent', options, (c) => c.range, rangeRequest(key, options));
  }

  kvPut(key: string, value: o.KvValue, options: o.KvPutOptions = {}): Promise<kv.PutResponse> {
    return this.kvCall('not-idempotent', options, (c) => c.put, putRequest(key, value, options));
  }

  kvDelete(key: string, options: o.KvDeleteOptions = {}): Promise<kv.DeleteRangeResponse> {
    return this.kvCall('not-idempotent', options, (c) => c.deleteRange, deleteRequest(key, options));
  }

  /** If every compare holds, runs `success`, else `failure` (build them with kvOps). */
  kvTxn(txn: Partial<kv.TxnRequest>, options: CallOptions = {}): Promise<kv.TxnResponse> {
    const request = { compare: txn.compare ?? [], success: txn.success ?? [], failure: txn.failure ?? [] };
    return this.kvCall('not-idempotent', options, (c) => c.txn, request);
  }

  /** Drops history before `revision` (compacting twice to one revision fails, so never repeated). */
  kvCompact(revision: o.Int64, options: CallOptions = {}): Promise<kv.CompactionResponse> {
    return this.kvCall('not-idempotent', options, (c) => c.compact, { revision: int64(revision) });
  }

  /**
   * Every change of a key or range, one response per revision, resumed on another node after a
   * failure without losing or repeating one. A client's watches share its WatchStream calls
   * (KvWatchMux.ts); once a node of an earlier version (no WatchStream) has said so, each watch
   * is a call of its own (watchKv.ts), which every version serves.
   */
  async *kvWatch(key: string, options: o.KvWatchOptions = {}): AsyncGenerator<kv.KvWatchResponse, void, undefined> {
    const request = watchRequest(key, options);
    const deadline = options.deadlineMs === undefined ? undefined : Date.now() + options.deadlineMs;
    // A watch "from now" first reads the current revision (linearizably), so even a break before
    // its first event resumes exactly where it began.
    let next = request.startRevision > 0n
      ? request.startRevision
      : ((await this.kvRange(key, { rangeEnd: request.rangeEnd, countOnly: true })).header?.revision ?? 0n) + 1n;
    if (!this.watchStreamMissing) {
      try {
        for await (const response of this.kvWatches.watch({ request: { ...request, startRevision: next }, deadline, signal: options.signal })) {
          next = (response.header?.revision ?? 0n) + 1n;
          yield response;
        }
        return;
      } catch (error) {
        if (!isServiceError(error) || error.code !== status.UNIMPLEMENTED) throw error;
        this.watchStreamMissing = true;
      }
    }
    yield* watchKv({
      pool: this.pool,
      request: { ...request, startRevision: next },
      subscribeDeadlineMs: this.deadlineMs,
      connectTimeoutMs: this.connectTimeoutMs,
      deadline,
      resubscribeMax: this.watchResubscribeMax,
      signal: options.signal,
    });
  }

  /** Grants a lease; its fencing token is greater than every token granted before. */
  leaseGrant(ttlMs: number, options: o.LeaseGrantOptions = {}): Promise<kv.LeaseGrantResponse> {
    return this.kvCall('not-idempotent', options, (c) => c.leaseGrant, { ttlMs: int64(ttlMs), id: int64(options.id) });
  }

  /** Renews a lease for its TTL (renewing twice is harmless, so it fails over). */
  leaseKeepAlive(id: o.Int64, options: CallOptions = {}): Promise<kv.LeaseKeepAliveResponse> {
    return this.kvCall('idempotent', options, (c) => c.leaseKeepAlive, { id: int64(id) });
  }

  /** Ends a lease and deletes its keys. */
  leaseRevoke(id: o.Int64, options: CallOptions = {}): Promise<kv.LeaseRevokeResponse> {
    return this.kvCall('not-idempotent', options, (c) => c.leaseRevoke, { id: int64(id) });
  }

  /** What the leader knows of a lease: time left, granted TTL, fencing token, keys (with `keys: true`); NOT_FOUND once it is gone. */
  leaseTimeToLive(id: o.Int64, options: CallOptions & { readonly keys?: boolean } = {}): Promise<kv.LeaseTimeToLiveResponse> {
    return this.kvCall('idempotent', options, (c) => c.leaseTimeToLive, { id: int64(id), keys: options.keys ?? false });
  }

  /** Every lease granted, by id, with the time left on the leader's clock. */
  leaseLeases(options: CallOptions = {}): Promise<kv.LeaseLeasesResponse> {
    return this.kvCall('idempotent', options, (c) => c.leaseLeases, {});
  }

  /** Adds `delta` to a counter key; a change crossing `floor` or `ceiling` is refused, never clamped. */
  counterAdd(key: string, delta: o.Int64, options: o.CounterAddOptions = {}): Promise<kv.CounterAddResponse> {
    return this.kvCall('not-idempotent', options, (c) => c.counterAdd, counterAddRequest(key, delta, options));
  }

  /** Status of the node at `address` (one of the endpoints; no failover), or of any node. */
  async status(address?: string, options: CallOptions = {}): Promise<StatusResponse> {
    if (address === undefined) {
      return this.call('idempotent', options, (node, deadline) => unaryCall(node.admin.status.bind(node.admin), {}, deadline));
    }
    const node = this.endpoint(address);
    return unaryCall(node.admin.status.bind(node.admin), {}, this.deadline(options));
  }

  /**
   * Sets fault injection on the links of the node at `address` (needs `adminToken`). No
   * failover: faults belong to one node. With no faults and replace false it changes nothing,
   * which checks the credential and returns the faults in force.
   */
  setLinkFaults(address: string, faults: readonly LinkFault[], options: SetLinkFaultsOptions = {}): Promise<SetLinkFaultsResponse> {
    const node = this.endpoint(address);
    const request = { faults: [...faults], replace: options.replace ?? false };
    return unaryCall(node.admin.setLinkFaults.bind(node.admin), request, this.deadline(options), { headers: this.adminHeaders });
  }

  /**
   * Who a node takes this client for under its access policy: the user (the client
   * certificate's common name), its roles and what they grant; `authorization` is false on a
   * node that checks no policy. Any node, with failover.
   */
  whoAmI(options: CallOptions = {}): Promise<WhoAmIResponse> {
    return this.call('idempotent', options, (node, deadline) => unaryCall(node.admin.whoAmI.bind(node.admin), {}, deadline));
  }

  /** The partition ledger of the node at `address`, newest episode first. */
  ledger(address: string, options: LedgerOptions = {}): Promise<LedgerResponse> {
    const node = this.endpoint(address);
    return unaryCall(node.admin.ledger.bind(node.admin), { limit: options.limit ?? 0 }, this.deadline(options));
  }

  /** Status of every endpoint, in endpoint order; an unreachable node is a result, not a throw. */
  statusAll(options: CallOptions = {}): Promise<NodeStatusResult[]> {
    return Promise.all(
      this.pool.endpoints.map(async ({ address }): Promise<NodeStatusResult> => {
        try {
          return { address, ok: true, status: await this.status(address, options) };
        } catch (error) {
          return { address, ok: false, error };
        }
      }),
    );
  }

  /** The session's version token for a document (undefined without `session` or before any call). */
  sessionVersion(documentId: string): Uint8Array | undefined {
    return this.session?.minVersion(documentId);
  }

  /** Addresses in round-robin order with their current health, for diagnostics. */
  nodes(): { address: string; healthy: boolean }[] {
    return this.pool.endpoints.map((node) => ({ address: node.address, healthy: this.pool.isHealthy(node) }));
  }

  close(): void {
    this.kvWatches.close();
    this.pool.close();
  }

  private endpoint(address: string): NodeEndpoint {
    const node = this.pool.find(address);
    if (node === undefined) throw new RangeError(`${address} is not one of this client's endpoints`);
    return node;
  }

  private deadline(options: CallOptions): number {
    return Date.now() + (options.deadlineMs ?? this.deadlineMs);
  }

  private kvCall<Req, Res>(
    idempotency: Idempotency,
    options: CallOptions,
    method: (client: kv.KvServiceClient) => UnaryMethod<Req, Res>,
    request: Req,
  ): Promise<Res> {
    return this.call(idempotency, options, (node, deadline) => unaryCall(method(node.kv).bind(node.kv), request, deadline), callPurpose.kv);
  }

  /** One call over the pool; `purpose` names its kind, for nodes that refuse a kind for their role (NodePool). */
  private call<T>(
    idempotency: Idempotency,
    options: CallOptions,
    attempt: (node: NodeEndpoint, deadline: number) => Promise<T>,
    purpose?: string,
  ): Promise<T> {
    const deadline = this.deadline(options);
    return callWithFailover({ pool: this.pool, idempotency, deadline, connectTimeoutMs: this.connectTimeoutMs, attempt, purpose });
  }
}
