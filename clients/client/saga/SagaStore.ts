import type { ConcordClient } from '../ConcordClient';
import { kvOps } from '../kvOps';
import { txnRangeKvs, utf8 } from '../txnRanges';

// Where sagas live: the authoritative KV store (a majority decides every change, so a saga's
// record never diverges between two sides of a partition). SagaStore is the little a runner
// needs of it, and `kvSagaStore` makes it of a client's KV calls: a ConcordClient, or in the
// seeded simulation an in-memory client running the nodes' own KV state machine.

/** The KV calls sagas use (a ConcordClient has them). */
export type KvClient = Pick<ConcordClient, 'kvRange' | 'kvTxn' | 'leaseGrant' | 'leaseKeepAlive' | 'leaseRevoke'>;

/** A stored record and the revision it was last written at. */
export interface Stored {
  readonly value: string;
  readonly modRevision: bigint;
}

export interface SagaStore {
  read(key: string): Promise<Stored | undefined>;
  /** Every record under `prefix`, in key order. */
  list(prefix: string): Promise<{ key: string; value: string; modRevision: bigint }[]>;
  /**
   * Deletes the record at `key` with `alsoDelete` (its markers) if it is still at `expected`
   * and no runner holds `ownerKey`; false when either changed (the record stays; when the
   * markers took more than one transaction, those of the batches before may be gone).
   */
  remove(key: string, expected: bigint, ownerKey: string, alsoDelete: readonly string[]): Promise<boolean>;
  /**
   * Writes `value` at `key` if the owner key still holds `token` and the record is as the
   * writer last saw it (`modRevision`, or 'absent' for a new record): the fence that keeps a
   * runner that lost its saga from writing to it. Returns the new revision, or undefined when
   * a compare failed (nothing written).
   */
  write(key: string, value: string, expected: bigint | 'absent', ownerKey: string, token: string): Promise<bigint | undefined>;
  /**
   * Puts `token` at `ownerKey` under `lease` if the key is absent. Returns the token the key
   * holds when it is under `lease` (this one, or one an earlier claim of ours left when its
   * answer was lost), undefined when another lease holds it.
   */
  claim(ownerKey: string, token: string, lease: bigint): Promise<string | undefined>;
  /** Deletes `ownerKey` if it still holds `token`. */
  release(ownerKey: string, token: string): Promise<void>;
  leaseGrant(ttlMs: number): Promise<bigint>;
  leaseKeepAlive(lease: bigint): Promise<void>;
  leaseRevoke(lease: bigint): Promise<void>;
}

/** Markers one removal transaction deletes at most (a transaction holds 128 compares and operations). */
const removeBatchMax = 100;

/** SagaStore over a client's KV calls (compare-and-set transactions and leases). */
export function kvSagaStore(client: KvClient): SagaStore {
  return {
    async read(key) {
      const kv = (await client.kvRange(key)).kvs[0];
      return kv === undefined ? undefined : { value: utf8(kv.value), modRevision: kv.modRevision };
    },
    async list(prefix) {
      return (await client.kvRange(prefix, { prefix: true })).kvs.map((kv) => ({ key: kv.key, value: utf8(kv.value), modRevision: kv.modRevision }));
    },
    async remove(key, expected, ownerKey, alsoDelete) {
      // More than one transaction holds (a saga of many steps): the markers go first, a batch per
      // transaction, each only while the record is as it was and no runner holds the saga (its
      // markers are garbage then: a finished saga runs no step again, and an attempt still on
      // its way is fenced by an owner key that is absent); the record goes with the last batch.
      const still = [kvOps.compare('mod', key, '=', expected), kvOps.compare('create', ownerKey, '=', 0)];
      let rest = alsoDelete;
      while (rest.length > removeBatchMax) {
        const r = await client.kvTxn({ compare: still, success: rest.slice(0, removeBatchMax).map((k) => kvOps.del(k)) });
        if (!r.succeeded) return false;
        rest = rest.slice(removeBatchMax);
      }
      const r = await client.kvTxn({ compare: still, success: [kvOps.del(key), ...rest.map((k) => kvOps.del(k))] });
      return r.succeeded;
    },
    async write(key, value, expected, ownerKey, token) {
      const r = await client.kvTxn({
        compare: [
          kvOps.compare('value', ownerKey, '=', token),
          expected === 'absent' ? kvOps.compare('create', key, '=', 0) : kvOps.compare('mod', key, '=', expected),
        ],
        success: [kvOps.put(key, value)],
      });
      return r.succeeded ? r.header?.revision : undefined;
    },
    async claim(ownerKey, token, lease) {
      const r = await client.kvTxn({ compare: [kvOps.compare('create', ownerKey, '=', 0)], success: [kvOps.put(ownerKey, token, { lease })], failure: [kvOps.get(ownerKey)] });
      if (r.succeeded) return token;
      const held = txnRangeKvs(r, 0)[0];
      return held !== undefined && held.lease === lease ? held.value : undefined;
    },
    async release(ownerKey, token) {
      await client.kvTxn({ compare: [kvOps.compare('value', ownerKey, '=', token)], success: [kvOps.del(ownerKey)] });
    },
    async leaseGrant(ttlMs) {
      return (await client.leaseGrant(ttlMs)).id;
    },
    async leaseKeepAlive(lease) {
      await client.leaseKeepAlive(lease);
    },
    async leaseRevoke(lease) {
      await client.leaseRevoke(lease);
    },
  };
}
