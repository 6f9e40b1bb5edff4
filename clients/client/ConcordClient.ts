import { credentials as grpcCredentials } from '@grpc/grpc-js';
import type { LedgerResponse, LinkFault, SetLinkFaultsResponse, StatusResponse } from '../../proto/gen/concord/v1/admin';
import type { GetResponse, ListResponse, Operation, WatchEvent, WriteResponse } from '../../proto/gen/concord/v1/documents';
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
import type { NodeEndpoint } from './NodeEndpoint';
import { NodePool } from './NodePool';
import type { Idempotency } from './retryRule';
import { SessionVersions } from './SessionVersions';
import { unaryCall } from './unaryCall';
import { watchDocument } from './watchDocument';

// The Concord client over a list of node addresses: round robin over healthy nodes, failover
// only where retryRule.ts allows it, a deadline on every call, optional session consistency.
// Typical use:
//   const client = new ConcordClient({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7002'], session: true });
//   await client.apply('demo/hello', [ops.set('greeting.text', 'hi')], { ack: 'quorum' });
//   const { json } = await client.get('demo/hello'); // sees the write, whichever node answers

export class ConcordClient {
  private readonly pool: NodePool;
  private readonly session: SessionVersions | undefined;
  private readonly deadlineMs: number;
  private readonly connectTimeoutMs: number;
  private readonly watchResubscribeMax: number;
  private readonly adminHeaders: Readonly<Record<string, string>>;

  constructor(options: ConcordClientOptions) {
    this.adminHeaders = options.adminToken ? { authorization: `Bearer ${options.adminToken}` } : {};
    this.deadlineMs = options.deadlineMs ?? 5000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1500;
    this.watchResubscribeMax = options.watchResubscribeMax ?? 10;
    this.session = options.session ? new SessionVersions() : undefined;
    this.pool = new NodePool(options.endpoints, {
      credentials: options.credentials ?? grpcCredentials.createInsecure(),
      // A short reconnect backoff so a node that comes back is re-admitted in seconds (the
      // grpc-js default grows to two minutes).
      channelOptions: {
        'grpc.initial_reconnect_backoff_ms': 250,
        'grpc.max_reconnect_backoff_ms': 2000,
        ...options.channelOptions,
      },
      cooldownMs: options.cooldownMs ?? 2000,
      probeDeadlineMs: options.probeDeadlineMs ?? 1000,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 0,
    });
  }

  /** Applies typed operations in one transaction. Never repeated once sent (retryRule.ts). */
  async apply(documentId: string, operations: readonly Operation[], options: WriteOptions = {}): Promise<WriteResponse> {
    const request = { documentId, operations: [...operations], ack: ackLevel(options.ack) };
    const response = await this.call('not-idempotent', options, (node, deadline) =>
      unaryCall(node.documents.apply.bind(node.documents), request, deadline),
    );
    this.session?.observe(documentId, response.version);
    return response;
  }

  /** Pushes a raw Yjs update (v1). Applying an update twice is a no-op, so it is retried. */
  async pushUpdate(documentId: string, update: Uint8Array, options: WriteOptions = {}): Promise<WriteResponse> {
    const request = { documentId, update: Buffer.from(update), ack: ackLevel(options.ack) };
    const response = await this.call('idempotent', options, (node, deadline) =>
      unaryCall(node.documents.pushUpdate.bind(node.documents), request, deadline),
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
    const response = await this.call('idempotent', options, (node, deadline) =>
      unaryCall(node.documents.get.bind(node.documents), request, deadline),
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
    return this.call('idempotent', options, (node, deadline) =>
      unaryCall(node.documents.list.bind(node.documents), request, deadline),
    );
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

  private call<T>(
    idempotency: Idempotency,
    options: CallOptions,
    attempt: (node: NodeEndpoint, deadline: number) => Promise<T>,
  ): Promise<T> {
    const deadline = this.deadline(options);
    return callWithFailover({ pool: this.pool, idempotency, deadline, connectTimeoutMs: this.connectTimeoutMs, attempt });
  }
}
