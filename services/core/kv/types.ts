import type { StoredValue } from './storedValue';

/** Plain data of the authoritative key-value store (the RPC layer converts protobuf to these). */

export interface KeyValue {
  readonly key: string;
  /** A copy of the value's bytes (see storedValue). */
  readonly value: StoredValue;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
}

export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue; // for a delete: the key with modRevision = the delete's revision
  readonly prevKv?: KeyValue;
}

export interface RangeQuery {
  readonly key: string;
  readonly rangeEnd: string; // '' = just key; '\0' = every key >= key
  readonly limit: number; // 0 = none
  readonly revision: number; // 0 = latest
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
}

export interface RangeResult {
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareResult = 'equal' | 'greater' | 'less' | 'not-equal';

export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  readonly number?: number; // for version/create/mod/lease
  readonly value?: Uint8Array; // for value
}

export type RequestOp =
  | { readonly type: 'range'; readonly query: RangeQuery }
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array; readonly lease: number; readonly prevKv: boolean }
  | { readonly type: 'delete'; readonly key: string; readonly rangeEnd: string; readonly prevKv: boolean };

export type ResponseOp =
  | { readonly type: 'range'; readonly result: RangeResult }
  | { readonly type: 'put'; readonly prevKv?: KeyValue }
  | { readonly type: 'delete'; readonly deleted: number; readonly prevKvs: KeyValue[] };

/** Commands that go through the replicated log. Deterministic to apply on every voter. */
export type KvCommand =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array; readonly lease: number; readonly prevKv: boolean }
  | { readonly type: 'delete'; readonly key: string; readonly rangeEnd: string; readonly prevKv: boolean }
  | { readonly type: 'txn'; readonly compare: readonly Compare[]; readonly success: readonly RequestOp[]; readonly failure: readonly RequestOp[] }
  | { readonly type: 'compact'; readonly revision: number }
  | { readonly type: 'lease-grant'; readonly id: number; readonly ttlMs: number }
  | { readonly type: 'lease-revoke'; readonly id: number }
  /** Proposed by the leader when its lease timer fires; a no-op if a keep-alive won the race. */
  | { readonly type: 'lease-expire'; readonly id: number; readonly grantToken: number }
  | {
      readonly type: 'counter-add';
      readonly key: string;
      readonly delta: number;
      readonly floor?: number;
      readonly ceiling?: number;
    };

export type KvCommandResult =
  | { readonly type: 'put'; readonly revision: number; readonly prevKv?: KeyValue }
  | { readonly type: 'delete'; readonly revision: number; readonly deleted: number; readonly prevKvs: KeyValue[] }
  | { readonly type: 'txn'; readonly revision: number; readonly succeeded: boolean; readonly responses: ResponseOp[] }
  | { readonly type: 'compact'; readonly revision: number }
  | { readonly type: 'lease-grant'; readonly revision: number; readonly id: number; readonly ttlMs: number; readonly fencingToken: number }
  | { readonly type: 'lease-revoke'; readonly revision: number }
  | { readonly type: 'lease-expire'; readonly revision: number; readonly expired: boolean }
  | { readonly type: 'counter-add'; readonly revision: number; readonly value: number };

/** Limits on requests (checked before proposing, and again when applying). */
export const kvLimits = {
  keyBytesMax: 4096,
  valueBytesMax: 1 << 20,
  txnOpsMax: 128,
  leaseTtlMsMin: 1000,
  leaseTtlMsMax: 24 * 3600 * 1000,
} as const;
