import type {
  CounterAddRequest,
  DeleteRangeRequest,
  KvWatchRequest,
  PutRequest,
  RangeRequest,
} from '../../proto/gen/concord/v1/kv';
import { prefixRangeEnd } from '../../services/core/kv/prefixRangeEnd';
import type { CounterAddOptions, Int64, KvDeleteOptions, KvKeyRange, KvRangeQuery, KvValue, KvPutOptions, KvWatchOptions } from './KvOptions';

// KvService requests with every field set (ts-proto messages have no optional scalars), built
// from the client's options. Shared by ConcordClient's calls and kvOps' transaction operations.

export function bytesOf(value: KvValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

export function int64(value: Int64 | undefined): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return BigInt(value ?? 0);
}


export function rangeEndOf(key: string, range: KvKeyRange): string {
  if (range.rangeEnd !== undefined) return range.rangeEnd;
  return range.prefix ? prefixRangeEnd(key) : '';
}

export function rangeRequest(key: string, query: KvRangeQuery): RangeRequest {
  return {
    key,
    rangeEnd: rangeEndOf(key, query),
    limit: int64(query.limit),
    revision: int64(query.revision),
    serializable: query.serializable ?? false,
    keysOnly: query.keysOnly ?? false,
    countOnly: query.countOnly ?? false,
  };
}

export function putRequest(key: string, value: KvValue, options: KvPutOptions): PutRequest {
  return { key, value: bytesOf(value), lease: int64(options.lease), prevKv: options.prevKv ?? false };
}

export function deleteRequest(key: string, options: KvDeleteOptions): DeleteRangeRequest {
  return { key, rangeEnd: rangeEndOf(key, options), prevKv: options.prevKv ?? false };
}

export function watchRequest(key: string, options: KvWatchOptions): KvWatchRequest {
  return { key, rangeEnd: rangeEndOf(key, options), startRevision: int64(options.startRevision), prevKv: options.prevKv ?? false };
}

export function counterAddRequest(key: string, delta: Int64, options: CounterAddOptions): CounterAddRequest {
  return {
    key,
    delta: int64(delta),
    floor: int64(options.floor),
    ceiling: int64(options.ceiling),
    hasFloor: options.floor !== undefined,
    hasCeiling: options.ceiling !== undefined,
  };
}
