// Terse constructors for hand-written KV histories: `put(client, key, value, call, ret)`.

import type { Operation } from './Model';
import type { CasExpectation, KvInput, KvOutput } from './registerModel';

export type KvOp = Operation<KvInput, KvOutput>;

/** A return time of Infinity records an unknown outcome. */
function op(clientId: number, input: KvInput, output: KvOutput, call: number, ret: number): KvOp {
  return ret === Infinity
    ? { clientId, input, call, output: 'unknown', return: Infinity }
    : { clientId, input, call, output, return: ret };
}

export const kvOps = {
  get: (c: number, key: string, value: string | null, call: number, ret: number, modRevision?: number): KvOp =>
    op(c, { kind: 'get', key }, { kind: 'get', value, ...(modRevision === undefined ? {} : { modRevision }) }, call, ret),
  put: (c: number, key: string, value: string, call: number, ret: number): KvOp =>
    op(c, { kind: 'put', key, value }, { kind: 'put' }, call, ret),
  del: (c: number, key: string, deleted: boolean, call: number, ret: number): KvOp =>
    op(c, { kind: 'delete', key }, { kind: 'delete', deleted }, call, ret),
  cas: (c: number, key: string, expected: CasExpectation, value: string, succeeded: boolean, call: number, ret: number): KvOp =>
    op(c, { kind: 'cas', key, expected, value }, { kind: 'cas', succeeded }, call, ret),
};
