import { Client, credentials } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { resolve } from 'node:path';
import { unaryStub } from '../unaryStub';

// etcd's KV and Maintenance services through @grpc/proto-loader over the subset in etcd.proto.
// Requests use camelCase fields and Buffers for bytes; 64-bit integers come back as strings.

export interface EtcdHeader { memberId: string; revision: string; raftTerm: string }
export interface EtcdPutRequest { key: Buffer; value: Buffer }
export interface EtcdCompare {
  result: 'EQUAL';
  target: 'VERSION';
  key: Buffer;
  version: number | string;
}
export interface EtcdTxnRequest {
  compare: EtcdCompare[];
  success: { requestPut: EtcdPutRequest }[];
  failure: { requestRange: { key: Buffer } }[];
}
export interface EtcdTxnResponse {
  header: EtcdHeader;
  succeeded: boolean;
  responses: { responseRange?: { kvs: { version: string }[] } }[];
}
export interface EtcdRangeResponse { header: EtcdHeader; kvs: { version: string; value: Buffer }[] }
export interface EtcdWatchRequest { createRequest?: { key: Buffer; rangeEnd: Buffer; startRevision?: string | number } }
export interface EtcdWatchResponse { header: EtcdHeader; watchId: string; created: boolean; canceled: boolean; cancelReason: string; events: { kv: { key: Buffer; value: Buffer } }[] }
export interface EtcdStatusResponse { header: EtcdHeader; version: string; leader: string }

const definition = protoLoader.loadSync(resolve(__dirname, 'etcd.proto'), { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });

function method<Req, Res>(service: string, name: string) {
  // proto-loader types a method's messages as `object`; the interfaces above narrow them.
  const def = (definition[service] as protoLoader.ServiceDefinition)[name] as unknown as protoLoader.MethodDefinition<Req, Res>;
  return (client: Client) => unaryStub<Req, Res>(client, def.path, def.requestSerialize, def.responseDeserialize);
}

const put = method<EtcdPutRequest, { header: EtcdHeader }>('etcdserverpb.KV', 'Put');
const txn = method<EtcdTxnRequest, EtcdTxnResponse>('etcdserverpb.KV', 'Txn');
const range = method<{ key: Buffer }, EtcdRangeResponse>('etcdserverpb.KV', 'Range');
const status = method<Record<string, never>, EtcdStatusResponse>('etcdserverpb.Maintenance', 'Status');

const watchDef = (definition['etcdserverpb.Watch'] as protoLoader.ServiceDefinition).Watch as unknown as protoLoader.MethodDefinition<EtcdWatchRequest, EtcdWatchResponse>;

export function etcdStubs(address: string) {
  const client = new Client(address, credentials.createInsecure());
  return {
    /** A Watch stream: etcd carries many watches on one stream, each created by a request on it. */
    watch: () => client.makeBidiStreamRequest(watchDef.path, watchDef.requestSerialize, watchDef.responseDeserialize),
    put: put(client),
    txn: txn(client),
    range: range(client),
    status: status(client),
    close: () => client.close(),
  };
}

export type EtcdStubs = ReturnType<typeof etcdStubs>;
