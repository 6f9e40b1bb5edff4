import { Server, ServerCredentials, status, type handleBidiStreamingCall, type handleServerStreamingCall, type handleUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ConcordClient, type ConcordClientOptions } from '../../clients/client';
import * as kv from '../../proto/gen/concord/v1/kv';

// A stand-in voter for KV client tests: a real grpc-js server on loopback serving KvService
// and grpc.health.v1. Every call is recorded by method name; each method's handler can be
// replaced per test (the defaults answer with empty responses from this node, and WatchStream
// with UNIMPLEMENTED, as a node of an earlier version). Handlers may answer with partial
// messages: they are completed with the generated fromPartial. A WatchStream call is recorded
// once, with an empty request; its requests are the handler's to read.

type Unary = handleUnaryCall<unknown, unknown>;
export type WatchHandler = handleServerStreamingCall<kv.KvWatchRequest, kv.KvWatchResponse>;
export type WatchStreamHandler = handleBidiStreamingCall<kv.KvWatchStreamRequest, kv.KvWatchStreamResponse>;

/** A node of an earlier version: no WatchStream. */
const unimplemented: WatchStreamHandler = (call) => call.emit('error', { code: status.UNIMPLEMENTED, details: 'no WatchStream here' });

const responses: Record<string, { fromPartial(value: object): unknown }> = {
  range: kv.RangeResponse,
  put: kv.PutResponse,
  deleteRange: kv.DeleteRangeResponse,
  txn: kv.TxnResponse,
  compact: kv.CompactionResponse,
  leaseGrant: kv.LeaseGrantResponse,
  leaseRevoke: kv.LeaseRevokeResponse,
  leaseKeepAlive: kv.LeaseKeepAliveResponse,
  counterAdd: kv.CounterAddResponse,
};

export const header = (nodeId: string, revision = 1n): kv.ResponseHeader => ({ revision, nodeId, leaderId: 'n1', term: 1n });

export class FakeKvNode {
  readonly calls: { method: string; request: unknown }[] = [];
  readonly unary = new Map<string, Unary>();
  watch: WatchHandler = () => undefined;
  watchStream: WatchStreamHandler = unimplemented;
  private server: Server | undefined;

  private constructor(readonly nodeId: string) {}

  static async start(nodeId: string): Promise<FakeKvNode> {
    const node = new FakeKvNode(nodeId);
    await node.listen();
    return node;
  }

  port = 0;
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Calls of one method, in order. */
  requests<T>(method: string): T[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.request as T);
  }

  private async listen(): Promise<void> {
    const server = new Server();
    const implementation: UntypedServiceImplementation = {};
    for (const method of Object.keys(kv.KvServiceService)) {
      implementation[method] =
        method === 'watch'
          ? (call: Parameters<WatchHandler>[0]) => (this.calls.push({ method, request: call.request }), this.watch(call))
          : method === 'watchStream'
          ? (call: Parameters<WatchStreamHandler>[0]) => (this.calls.push({ method, request: undefined }), this.watchStream(call))
          : (call: Parameters<Unary>[0], callback: Parameters<Unary>[1]) => {
              this.calls.push({ method, request: call.request });
              const handler = this.unary.get(method) ?? ((_c, cb) => cb(null, { header: header(this.nodeId) }));
              handler(call, (error, response) => callback(error, response && responses[method]?.fromPartial(response as object)));
            };
    }
    server.addService(kv.KvServiceService, implementation);
    new HealthImplementation({ '': 'SERVING' }).addToServer(server);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.address, ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    this.server = server;
  }

  /** Serves again on the same port with the same handlers, like a node restarted. */
  async restart(): Promise<void> {
    await this.listen();
  }

  /** Stops at once, dropping open calls and connections, like a crashed node. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

/** A client of fake nodes that fails over and re-admits a node within a fraction of a second. */
export function fastClient(nodes: readonly FakeKvNode[], options: Partial<ConcordClientOptions> = {}): ConcordClient {
  return new ConcordClient({
    endpoints: nodes.map((n) => n.address),
    cooldownMs: 20,
    probeDeadlineMs: 200,
    channelOptions: { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 100 },
    ...options,
  });
}
