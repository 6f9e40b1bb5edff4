import { Compare_CompareResult, Compare_CompareTarget, TxnRequest } from '../../../proto/gen/concord/v1/kv';
import { KvStubs } from '../../integration/kvStubs';
import { EtcdStubs } from '../references/etcdStubs';

/**
 * The two authoritative stores behind one shape. Compare-and-set is etcd's idiom on both: a
 * transaction comparing the key's version, putting on success and reading on failure (so a
 * lost race learns the current version in the same round trip).
 */
export interface KvTarget {
  readonly system: string;
  put(key: string, value: string): Promise<void>;
  /** Puts every key with `value` in one transaction. */
  putAll(keys: readonly string[], value: string): Promise<void>;
  /** Puts when the key's version is `expected`; returns the version after the call. */
  cas(key: string, expected: number, value: string): Promise<{ ok: boolean; version: number }>;
}

export function concordKv(stub: KvStubs): KvTarget {
  return {
    system: 'concord',
    put: async (key, value) => {
      await stub.put(key, value);
    },
    putAll: async (keys, value) => {
      const v = new TextEncoder().encode(value);
      await stub.txn({ compare: [], success: keys.map((key) => ({ request: { $case: 'requestPut', value: { key, value: v, lease: 0n, prevKv: false } } })), failure: [] });
    },
    cas: async (key, expected, value) => {
      const req: TxnRequest = {
        compare: [{ result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.VERSION, key, targetUnion: { $case: 'version', value: BigInt(expected) } }],
        success: [{ request: { $case: 'requestPut', value: { key, value: new TextEncoder().encode(value), lease: 0n, prevKv: false } } }],
        failure: [{ request: { $case: 'requestRange', value: { key, rangeEnd: '', limit: 0n, revision: 0n, serializable: false, keysOnly: false, countOnly: false } } }],
      };
      const res = await stub.txn(req);
      if (res.succeeded) return { ok: true, version: expected + 1 };
      const r = res.responses[0]?.response;
      const kv = r?.$case === 'responseRange' ? r.value.kvs[0] : undefined;
      return { ok: false, version: Number(kv?.version ?? 0n) };
    },
  };
}

export function etcdKv(stub: EtcdStubs): KvTarget {
  return {
    system: 'etcd',
    put: async (key, value) => {
      await stub.put({ key: Buffer.from(key), value: Buffer.from(value) });
    },
    putAll: async (keys, value) => {
      const v = Buffer.from(value);
      await stub.txn({ compare: [], success: keys.map((key) => ({ requestPut: { key: Buffer.from(key), value: v } })), failure: [] });
    },
    cas: async (key, expected, value) => {
      const k = Buffer.from(key);
      const res = await stub.txn({
        compare: [{ result: 'EQUAL', target: 'VERSION', key: k, version: expected }],
        success: [{ requestPut: { key: k, value: Buffer.from(value) } }],
        failure: [{ requestRange: { key: k } }],
      });
      if (res.succeeded) return { ok: true, version: expected + 1 };
      return { ok: false, version: Number(res.responses[0]?.responseRange?.kvs[0]?.version ?? 0) };
    },
  };
}
