import * as pb from '../../proto/gen/concord/v1/kv';
import { invalidArgument, DomainError } from '../core/errors/DomainError';
import { valueBytes } from '../core/kv/storedValue';
import { Compare, CompareResult, CompareTarget, KeyValue, KvCommand, kvLimits, RangeQuery, RangeResult, RequestOp, ResponseOp } from '../core/kv/types';

/** Protobuf <-> core conversions for the KV service, with input validation. */

/** An int64 from the wire as a number, refusing what a JS number cannot hold exactly. */
export const num = (v: bigint, what: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw invalidArgument(`${what} is out of range`);
  return Number(v);
};

export function checkKey(key: string): string {
  if (key.length === 0) throw invalidArgument('key is empty');
  if (new TextEncoder().encode(key).length > kvLimits.keyBytesMax) throw invalidArgument(`key is longer than ${kvLimits.keyBytesMax} bytes`);
  return key;
}

export function checkValue(value: Uint8Array): Uint8Array {
  if (value.length > kvLimits.valueBytesMax) {
    throw new DomainError('too-large', `value is ${value.length} bytes; at most ${kvLimits.valueBytesMax} are allowed`);
  }
  return value;
}

export function nonNegative(v: bigint, what: string): number {
  const n = num(v, what);
  if (n < 0) throw invalidArgument(`${what} must not be negative`);
  return n;
}

export function toRangeQuery(r: pb.RangeRequest): RangeQuery {
  // A single-key read needs a key; a range may start at '' (etcd: '' to '\0' is every key).
  if (r.rangeEnd === '') checkKey(r.key);
  return {
    key: r.key,
    rangeEnd: r.rangeEnd,
    limit: nonNegative(r.limit, 'limit'),
    revision: nonNegative(r.revision, 'revision'),
    keysOnly: r.keysOnly,
    countOnly: r.countOnly,
  };
}

export function toRequestOp(op: pb.RequestOp): RequestOp {
  const r = op.request;
  if (r === undefined) throw invalidArgument('txn operation is empty');
  switch (r.$case) {
    case 'requestRange':
      return { type: 'range', query: toRangeQuery(r.value) };
    case 'requestPut':
      return { type: 'put', key: checkKey(r.value.key), value: checkValue(r.value.value), lease: nonNegative(r.value.lease, 'lease'), prevKv: r.value.prevKv };
    case 'requestDeleteRange':
      return { type: 'delete', key: checkKey(r.value.key), rangeEnd: r.value.rangeEnd, prevKv: r.value.prevKv };
  }
}

const targets: Record<number, CompareTarget> = { 0: 'version', 1: 'create', 2: 'mod', 3: 'value', 4: 'lease' };
const results: Record<number, CompareResult> = { 0: 'equal', 1: 'greater', 2: 'less', 3: 'not-equal' };

/** A Txn request as the command it proposes; at most `kvLimits.txnOpsMax` compares and operations. */
export function toTxnCommand(req: pb.TxnRequest): KvCommand & { type: 'txn' } {
  if (req.compare.length + req.success.length + req.failure.length > kvLimits.txnOpsMax) {
    throw invalidArgument(`a transaction has at most ${kvLimits.txnOpsMax} compares and operations`);
  }
  return { type: 'txn', compare: req.compare.map(toCompare), success: req.success.map(toRequestOp), failure: req.failure.map(toRequestOp) };
}

export function toCompare(c: pb.Compare): Compare {
  const target = targets[c.target];
  const result = results[c.result];
  if (target === undefined || result === undefined) throw invalidArgument('unknown compare target or result');
  const u = c.targetUnion;
  if (target === 'value') {
    return { key: checkKey(c.key), target, result, value: u?.$case === 'value' ? u.value : new Uint8Array() };
  }
  const n = u === undefined || u.$case === 'value' ? 0n : u.value;
  return { key: checkKey(c.key), target, result, number: num(n, 'compare operand') };
}

export function fromKv(kv: KeyValue): pb.KeyValue {
  return {
    key: kv.key,
    value: valueBytes(kv.value),
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    lease: BigInt(kv.lease),
  };
}

export function fromRange(r: RangeResult, header: pb.ResponseHeader): pb.RangeResponse {
  return { header, kvs: r.kvs.map(fromKv), more: r.more, count: BigInt(r.count) };
}

export function fromResponseOp(op: ResponseOp, header: pb.ResponseHeader): pb.ResponseOp {
  switch (op.type) {
    case 'range':
      return { response: { $case: 'responseRange', value: fromRange(op.result, header) } };
    case 'put':
      return { response: { $case: 'responsePut', value: { header, prevKv: op.prevKv === undefined ? undefined : fromKv(op.prevKv) } } };
    case 'delete':
      return { response: { $case: 'responseDeleteRange', value: { header, deleted: BigInt(op.deleted), prevKvs: op.prevKvs.map(fromKv) } } };
  }
}
