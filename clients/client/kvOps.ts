import { Compare_CompareResult, Compare_CompareTarget, type Compare, type RequestOp } from '../../proto/gen/concord/v1/kv';
import type { Int64, KvDeleteOptions, KvPutOptions, KvRangeQuery, KvValue } from './KvOptions';
import { bytesOf, deleteRequest, int64, putRequest, rangeRequest } from './kvRequests';

// Builders for the parts of a KvService transaction (`client.kvTxn`), as `ops` is for
// documents. A compare on a key that does not exist sees version, create and mod revision 0:
//   kvOps.compare('version', 'names/alice', '=', 0)   // "the key does not exist"
//   kvOps.compare('value', 'cfg/x', '=', 'v1')

export type CompareTargetName = 'value' | 'version' | 'create' | 'mod' | 'lease';
export type CompareOperator = '=' | '!=' | '>' | '<';

export const compareTargets: readonly CompareTargetName[] = ['value', 'version', 'create', 'mod', 'lease'];
export const compareOperators: readonly CompareOperator[] = ['=', '!=', '>', '<'];

const results: Record<CompareOperator, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

export const kvOps = {
  /** `target(key) operator operand`; the operand is a value for 'value', an integer otherwise. */
  compare(target: CompareTargetName, key: string, operator: CompareOperator, operand: KvValue | Int64): Compare {
    const result = results[operator];
    const number = (): bigint => {
      if (typeof operand === 'string' || operand instanceof Uint8Array) throw new TypeError(`${target} compares with an integer`);
      return int64(operand);
    };
    switch (target) {
      case 'value':
        if (typeof operand !== 'string' && !(operand instanceof Uint8Array)) throw new TypeError('value compares with a string or bytes');
        return { key, result, target: Compare_CompareTarget.VALUE, targetUnion: { $case: 'value', value: bytesOf(operand) } };
      case 'version':
        return { key, result, target: Compare_CompareTarget.VERSION, targetUnion: { $case: 'version', value: number() } };
      case 'create':
        return { key, result, target: Compare_CompareTarget.CREATE, targetUnion: { $case: 'createRevision', value: number() } };
      case 'mod':
        return { key, result, target: Compare_CompareTarget.MOD, targetUnion: { $case: 'modRevision', value: number() } };
      case 'lease':
        return { key, result, target: Compare_CompareTarget.LEASE, targetUnion: { $case: 'lease', value: number() } };
    }
  },
  put(key: string, value: KvValue, options: KvPutOptions = {}): RequestOp {
    return { request: { $case: 'requestPut', value: putRequest(key, value, options) } };
  },
  get(key: string, query: KvRangeQuery = {}): RequestOp {
    return { request: { $case: 'requestRange', value: rangeRequest(key, query) } };
  },
  del(key: string, options: KvDeleteOptions = {}): RequestOp {
    return { request: { $case: 'requestDeleteRange', value: deleteRequest(key, options) } };
  },
};
