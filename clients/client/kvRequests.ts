import type {
  CounterAddRequest,
  DeleteRangeRequest,
  KvWatchRequest,
  PutRequest,
  RangeRequest,
} from '../../proto/gen/concord/v1/kv';
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

/**
 * The first key after every key that starts with `prefix`, as etcd computes it: the last
 * character incremented, trailing '\uffff' dropped; '\u0000' (no end) when nothing is left.
 * Keys compare as JS strings (UTF-16 code units), as in the node's store.
 */
export function prefixEnd(prefix: string): string {
  for (let end = prefix.length; end > 0; end--) {
    const unit = prefix.charCodeAt(end - 1);
    if (unit === 0xffff) continue;
    const result = prefix.slice(0, end - 1) + String.fromCharCode(unit + 1);
    // A lone surrogate would not survive UTF-8 on the wire and the range would silently change.
    if (/[\ud800-\udbff]$|(?:^|[^\ud800-\udbff])[\udc00-\udfff]$/.test(result)) {
      throw new RangeError(`no prefix range for a key ending in U+${unit.toString(16)}`);
    }
    return result;
  }
  return '\u0000';
}

export function rangeEndOf(key: string, range: KvKeyRange): string {
  if (range.rangeEnd !== undefined) return range.rangeEnd;
  return range.prefix ? prefixEnd(key) : '';
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
