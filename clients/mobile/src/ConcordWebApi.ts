import { AdminServiceService, LedgerRequest, LedgerResponse, SetLinkFaultsRequest, SetLinkFaultsResponse, StatusRequest, StatusResponse, type LinkFault } from '../../../proto/gen/concord/v1/admin';
import { AckLevel, DocumentServiceService, GetRequest, GetResponse, PushUpdateRequest, WatchEvent, WatchRequest, WriteResponse } from '../../../proto/gen/concord/v1/documents';
import { Compare_CompareResult, Compare_CompareTarget, CounterAddRequest, CounterAddResponse, KvServiceService, RangeRequest, RangeResponse, TxnRequest, TxnResponse } from '../../../proto/gen/concord/v1/kv';
import { openStream, unaryCall, type GrpcWebTransport, type ServerStream } from './grpcWebCall';

// The calls the app and the cluster panel make, over gRPC-Web with the generated codecs.

const documents = DocumentServiceService;
const kv = KvServiceService;
const admin = AdminServiceService;

export class ConcordWebApi {
  constructor(readonly transport: GrpcWebTransport) {}

  /** A raw Yjs update. LOCAL ack: a phone on the minority side of a split must keep working. */
  pushUpdate(documentId: string, update: Uint8Array): Promise<WriteResponse> {
    const req = PushUpdateRequest.create({ documentId, update, ack: AckLevel.ACK_LEVEL_LOCAL });
    return unaryCall(this.transport, documents.pushUpdate.path, PushUpdateRequest, req, WriteResponse);
  }

  /** What the node has that `stateVector` lacks, plus the node's version token. */
  get(documentId: string, stateVector: Uint8Array): Promise<GetResponse> {
    const req = GetRequest.create({ documentId, stateVector, includeUpdate: true });
    return unaryCall(this.transport, documents.get.path, GetRequest, req, GetResponse);
  }

  watch(documentId: string, fromVersion: Uint8Array, signal: AbortSignal): Promise<ServerStream<WatchEvent>> {
    const req = WatchRequest.create({ documentId, fromVersion });
    return openStream(this.transport, documents.watch.path, WatchRequest, req, WatchEvent, signal);
  }

  /** Authoritative add with a floor: refused (never clamped) when it would go below. */
  counterAdd(key: string, delta: bigint, floor: bigint): Promise<CounterAddResponse> {
    const req = CounterAddRequest.create({ key, delta, floor, hasFloor: true });
    return unaryCall(this.transport, kv.counterAdd.path, CounterAddRequest, req, CounterAddResponse);
  }

  /** One key; serializable = this node's applied state, readable on either side of a split. */
  range(key: string, serializable: boolean): Promise<RangeResponse> {
    return unaryCall(this.transport, kv.range.path, RangeRequest, RangeRequest.create({ key, serializable }), RangeResponse);
  }

  /** Puts `value` only if the key has never been written (version 0), atomically. */
  putIfAbsent(key: string, value: Uint8Array): Promise<TxnResponse> {
    const req = TxnRequest.create({
      compare: [{ key, result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.VERSION, targetUnion: { $case: 'version', value: 0n } }],
      success: [{ request: { $case: 'requestPut', value: { key, value } } }],
    });
    return unaryCall(this.transport, kv.txn.path, TxnRequest, req, TxnResponse);
  }

  status(node: string): Promise<StatusResponse> {
    return unaryCall(this.transport, admin.status.path, StatusRequest, {}, StatusResponse, { node, timeoutMs: 1500 });
  }

  ledger(node: string, limit: number): Promise<LedgerResponse> {
    return unaryCall(this.transport, admin.ledger.path, LedgerRequest, { limit }, LedgerResponse, { node, timeoutMs: 1500 });
  }

  /** The gateway signs this call with the admin token it holds; the page never sees the token. */
  setLinkFaults(node: string, faults: LinkFault[], replace: boolean): Promise<SetLinkFaultsResponse> {
    return unaryCall(this.transport, admin.setLinkFaults.path, SetLinkFaultsRequest, { faults, replace }, SetLinkFaultsResponse, { node, timeoutMs: 3000 });
  }
}
