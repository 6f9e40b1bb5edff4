import type { ApplyRequest, GetRequest, ListRequest, PushUpdateRequest, WatchRequest } from '../../proto/gen/concord/v1/documents';
import type * as pb from '../../proto/gen/concord/v1/kv';
import { Need } from '../core/access/AccessPolicy';
import { KeyRange, singleKey } from '../core/access/KeyRange';
import { prefixRangeEnd } from '../core/kv/prefixRangeEnd';

/** Keys attached to a lease, for revoking it (undefined: no such lease; the call reports it). */
export type LeaseKeys = (id: number) => readonly string[] | undefined;

const documents = (access: 'read' | 'write', range: KeyRange): Need => ({ resource: 'documents', access, range });
const kv = (access: 'read' | 'write', range?: KeyRange): Need => (range === undefined ? { resource: 'kv', access } : { resource: 'kv', access, range });
const kvRange = (key: string, rangeEnd: string): KeyRange => ({ key, rangeEnd });
const admin = (access: 'read' | 'write'): Need => ({ resource: 'admin', access });

/** Writing a document needs write on its id. */
export const applyNeeds = (req: ApplyRequest): Need[] => [documents('write', singleKey(req.documentId))];

/** A KV watch needs read on its range. */
export const kvWatchNeeds = (req: pb.KvWatchRequest): Need[] => [kv('read', kvRange(req.key, req.rangeEnd))];

/** What each operation of a transaction needs; a put or delete returning previous values reads too (as in etcd). */
function requestOpNeeds(op: pb.RequestOp): Need[] {
  const r = op.request;
  switch (r?.$case) {
    case 'requestRange':
      return [kv('read', kvRange(r.value.key, r.value.rangeEnd))];
    case 'requestPut':
      return [kv('write', singleKey(r.value.key)), ...(r.value.prevKv ? [kv('read', singleKey(r.value.key))] : [])];
    case 'requestDeleteRange':
      return [kv('write', kvRange(r.value.key, r.value.rangeEnd)), ...(r.value.prevKv ? [kv('read', kvRange(r.value.key, r.value.rangeEnd))] : [])];
    default:
      return [];
  }
}

/**
 * What a call of a client service needs, by method, from its request: the one place that says
 * which permission each RPC checks. 'open' for the calls no permission guards: WhoAmI, and
 * Status, which clients and balancers read. 'per-message' for the streams that carry many
 * requests (ApplyBatches, WatchStream): their handlers check each one (applyNeeds,
 * kvWatchNeeds). A method this table does not know needs what nobody holds: a new RPC is refused
 * until it is given its rule here.
 */
export function requiredAccess(path: string, req: unknown, leaseKeys: LeaseKeys): Need[] | 'open' | 'per-message' {
  switch (path) {
    case '/concord.v1.AdminService/WhoAmI':
    case '/concord.v1.AdminService/Status':
      return 'open';
    case '/concord.v1.DocumentService/ApplyBatches':
    case '/concord.v1.KvService/WatchStream':
      return 'per-message';
    case '/concord.v1.DocumentService/Apply':
      return applyNeeds(req as ApplyRequest);
    case '/concord.v1.DocumentService/PushUpdate':
      return [documents('write', singleKey((req as PushUpdateRequest).documentId))];
    case '/concord.v1.DocumentService/Get':
      return [documents('read', singleKey((req as GetRequest).documentId))];
    case '/concord.v1.DocumentService/Watch':
      return [documents('read', singleKey((req as WatchRequest).documentId))];
    case '/concord.v1.DocumentService/List': {
      const prefix = (req as ListRequest).prefix;
      return [documents('read', prefix === '' ? kvRange('', '\u0000') : kvRange(prefix, prefixEndOrOpen(prefix)))];
    }
    case '/concord.v1.KvService/Range': {
      const r = req as pb.RangeRequest;
      return [kv('read', kvRange(r.key, r.rangeEnd))];
    }
    case '/concord.v1.KvService/Put': {
      const r = req as pb.PutRequest;
      return requestOpNeeds({ request: { $case: 'requestPut', value: r } });
    }
    case '/concord.v1.KvService/DeleteRange': {
      const r = req as pb.DeleteRangeRequest;
      return requestOpNeeds({ request: { $case: 'requestDeleteRange', value: r } });
    }
    case '/concord.v1.KvService/Txn': {
      const r = req as pb.TxnRequest;
      return [...r.compare.map((c) => kv('read', singleKey(c.key))), ...[...r.success, ...r.failure].flatMap(requestOpNeeds)];
    }
    case '/concord.v1.KvService/Watch':
      return kvWatchNeeds(req as pb.KvWatchRequest);
    case '/concord.v1.KvService/CounterAdd': {
      // It answers with the new value: a read as well as a write.
      const key = singleKey((req as pb.CounterAddRequest).key);
      return [kv('write', key), kv('read', key)];
    }
    case '/concord.v1.KvService/LeaseGrant':
    case '/concord.v1.KvService/LeaseKeepAlive':
      // A lease belongs to no key until a put attaches one: any KV write permission will do.
      return [kv('write')];
    case '/concord.v1.KvService/LeaseTimeToLive': {
      // Listing the keys reads their names (as etcd checks, read on each of them).
      const r = req as pb.LeaseTimeToLiveRequest;
      const keys = r.keys ? leaseKeys(Number(r.id)) ?? [] : [];
      return [kv('read'), ...keys.map((k) => kv('read', singleKey(k)))];
    }
    case '/concord.v1.KvService/LeaseLeases':
      return [kv('read')];
    case '/concord.v1.KvService/LeaseRevoke': {
      // Revoking deletes every key attached (as etcd checks, write on each of them).
      const keys = leaseKeys(Number((req as pb.LeaseRevokeRequest).id)) ?? [];
      return [kv('write'), ...keys.map((k) => kv('write', singleKey(k)))];
    }
    case '/concord.v1.KvService/Compact':
      return [admin('write')];
    case '/concord.v1.AdminService/Ledger':
      return [admin('read')];
    case '/concord.v1.AdminService/SetLinkFaults':
      return [admin('write')];
    default:
      return [{ resource: 'admin', access: 'write', range: { key: path, rangeEnd: '' } }];
  }
}

function prefixEndOrOpen(prefix: string): string {
  try {
    return prefixRangeEnd(prefix);
  } catch {
    // A prefix ending in a lone surrogate has no range end as a JS string: past it, every key
    // from the prefix on (more than the prefix holds, so a narrower grant is refused, never widened).
    return '\u0000';
  }
}
