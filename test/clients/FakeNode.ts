import {
  Server,
  ServerCredentials,
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import * as Y from 'yjs';
import { AdminServiceService, StatusResponse, type AdminServiceServer, type StatusRequest } from '../../proto/gen/concord/v1/admin';
import {
  DocumentServiceService,
  type ApplyRequest,
  type DocumentServiceServer,
  type GetRequest,
  type GetResponse,
  type ListRequest,
  type ListResponse,
  type PushUpdateRequest,
  type WatchEvent,
  type WatchRequest,
  type WriteResponse,
} from '../../proto/gen/concord/v1/documents';

// A stand-in node for client tests: a real grpc-js server on loopback serving DocumentService,
// AdminService and grpc.health.v1 with canned answers. Each handler can be replaced per test,
// and every request is recorded, so tests can see which node a call reached and with what.

export interface FakeHandlers {
  apply: handleUnaryCall<ApplyRequest, WriteResponse>;
  pushUpdate: handleUnaryCall<PushUpdateRequest, WriteResponse>;
  get: handleUnaryCall<GetRequest, GetResponse>;
  watch: handleServerStreamingCall<WatchRequest, WatchEvent>;
  list: handleUnaryCall<ListRequest, ListResponse>;
  status: handleUnaryCall<StatusRequest, StatusResponse>;
}

export interface FakeRequests {
  apply: ApplyRequest[];
  pushUpdate: PushUpdateRequest[];
  get: GetRequest[];
  watch: WatchRequest[];
  list: ListRequest[];
  status: StatusRequest[];
}

/** A version token as a node would return it: a Yjs snapshot with the given state vector. */
export function versionOf(stateVector: Record<number, number>): Buffer {
  const sv = new Map(Object.entries(stateVector).map(([client, clock]) => [Number(client), clock]));
  return Buffer.from(Y.encodeSnapshot(Y.createSnapshot(Y.createDeleteSet(), sv)));
}

export const unavailable = { code: status.UNAVAILABLE, details: 'fake node says unavailable' };

export class FakeNode {
  readonly requests: FakeRequests = { apply: [], pushUpdate: [], get: [], watch: [], list: [], status: [] };
  readonly handlers: FakeHandlers;
  private server: Server | undefined;
  private readonly health = new HealthImplementation({ '': 'SERVING' });

  private constructor(
    readonly nodeId: string,
    public port: number,
  ) {
    const write: handleUnaryCall<{ documentId: string }, WriteResponse> = (_call, callback) =>
      callback(null, { version: versionOf({ 1: 1 }), nodeId, ackedBy: 1 });
    this.handlers = {
      apply: write,
      pushUpdate: write,
      get: (call, callback) => callback(null, { json: '{}', version: versionOf({ 1: 1 }), update: Buffer.alloc(0), nodeId }),
      watch: (call) => call.end(),
      list: (_call, callback) => callback(null, { documents: [], nextStartAfter: '' }),
      status: (_call, callback) => callback(null, statusOf(nodeId, `127.0.0.1:${this.port}`)),
    };
  }

  /** Serves on 127.0.0.1:`port` (0 = a free port). */
  static async start(nodeId: string, port = 0): Promise<FakeNode> {
    const node = new FakeNode(nodeId, port);
    await node.listen();
    return node;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  setHealth(servingStatus: ServingStatus): void {
    this.health.setStatus('', servingStatus);
  }

  /** Serves on this node's port (a fresh one the first time, the same one after stop()). */
  async listen(): Promise<void> {
    const server = new Server();
    const record = <K extends keyof FakeRequests>(name: K, request: FakeRequests[K][number]): void => {
      (this.requests[name] as FakeRequests[K][number][]).push(request);
    };
    // The streamed write path is not faked; grpc-js answers UNIMPLEMENTED for it.
    const documents: Pick<DocumentServiceServer, 'apply' | 'pushUpdate' | 'get' | 'watch' | 'list'> = {
      apply: (call, cb) => (record('apply', call.request), this.handlers.apply(call, cb)),
      pushUpdate: (call, cb) => (record('pushUpdate', call.request), this.handlers.pushUpdate(call, cb)),
      get: (call, cb) => (record('get', call.request), this.handlers.get(call, cb)),
      watch: (call) => (record('watch', call.request), this.handlers.watch(call)),
      list: (call, cb) => (record('list', call.request), this.handlers.list(call, cb)),
    };
    // Only Status is faked; grpc-js answers UNIMPLEMENTED for the admin methods left out.
    const admin: Pick<AdminServiceServer, 'status'> = {
      status: (call, cb) => (record('status', call.request), this.handlers.status(call, cb)),
    };
    server.addService(DocumentServiceService, documents);
    server.addService(AdminServiceService, admin);
    this.health.addToServer(server);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.address, ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    this.server = server;
  }

  /** Stops serving at once, dropping open calls and connections, like a crashed node. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

function statusOf(nodeId: string, address: string): StatusResponse {
  // fromPartial keeps the fake valid when the lead adds fields to StatusResponse.
  return StatusResponse.fromPartial({
    nodeId,
    role: 'master',
    address,
    clusterId: 'test',
    incarnation: 1n,
    documents: 0n,
    uptimeMs: 1n,
    peers: [],
    clientId: 1n,
  });
}
