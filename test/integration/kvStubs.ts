import { type ChannelCredentials, credentials, Metadata } from '@grpc/grpc-js';
import * as pb from '../../proto/gen/concord/v1/kv';
import { callUnary } from '../../services/node/callUnary';

/** Promise-returning KvService stubs aimed at one node. */
export function kvStubs(address: string, creds: ChannelCredentials = credentials.createInsecure()) {
  const c = new pb.KvServiceClient(address, creds);
  const call = <Req, Res>(m: (req: Req, md: Metadata, o: object, cb: (e: Error | null, r: Res) => void) => unknown) =>
    (req: Req, ms = 5000): Promise<Res> => callUnary(m.bind(c) as never, req, ms);
  const range = call<pb.RangeRequest, pb.RangeResponse>(c.range);
  return {
    client: c,
    put: (key: string, value: string, lease = 0n, ms?: number) => call<pb.PutRequest, pb.PutResponse>(c.put)({ key, value: new TextEncoder().encode(value), lease, prevKv: false }, ms),
    get: (key: string, opts: Partial<pb.RangeRequest> = {}, ms?: number) =>
      range({ key, rangeEnd: '', limit: 0n, revision: 0n, serializable: false, keysOnly: false, countOnly: false, ...opts }, ms),
    txn: call<pb.TxnRequest, pb.TxnResponse>(c.txn),
    compact: call<pb.CompactionRequest, pb.CompactionResponse>(c.compact),
    counterAdd: (key: string, delta: number, floor?: number, ms?: number) => call<pb.CounterAddRequest, pb.CounterAddResponse>(c.counterAdd)({
      key, delta: BigInt(delta), floor: BigInt(floor ?? 0), ceiling: 0n, hasFloor: floor !== undefined, hasCeiling: false,
    }, ms),
    leaseGrant: (ttlMs: number) => call<pb.LeaseGrantRequest, pb.LeaseGrantResponse>(c.leaseGrant)({ ttlMs: BigInt(ttlMs), id: 0n }),
    leaseKeepAlive: (id: bigint) => call<pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse>(c.leaseKeepAlive)({ id }),
    leaseRevoke: (id: bigint) => call<pb.LeaseRevokeRequest, pb.LeaseRevokeResponse>(c.leaseRevoke)({ id }),
    close: () => c.close(),
  };
}

export type KvStubs = ReturnType<typeof kvStubs>;
export const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
