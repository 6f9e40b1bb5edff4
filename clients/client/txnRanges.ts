import type { KeyValue, TxnResponse } from '../../proto/gen/concord/v1/kv';

/** A KV value as text (UTF-8). */
export const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** The keys the `i`th operation of a transaction read (empty when it was not a range), as the node sent them. */
export function txnRangeRaw(r: TxnResponse, i: number): KeyValue[] {
  const op = r.responses[i]?.response;
  return op?.$case === 'responseRange' ? op.value.kvs : [];
}

/** The keys the `i`th operation of a transaction read (empty when it was not a range), values as text. */
export function txnRangeKvs(r: TxnResponse, i: number): { key: string; value: string; modRevision: bigint; lease: bigint }[] {
  return txnRangeRaw(r, i).map((kv) => ({ key: kv.key, value: utf8(kv.value), modRevision: kv.modRevision, lease: kv.lease }));
}
