import { KvStateSnapshot, KvVersionState } from '../../../proto/gen/concord/v1/kv_state';
import { HistoryRef, MvccDump, Version } from './MvccStore';

/** The state machine's parts that a snapshot holds. */
export interface KvStateParts {
  readonly store: MvccDump;
  readonly leases: readonly { readonly id: number; readonly ttlMs: number; readonly fencingToken: number; readonly keys: readonly string[] }[];
  readonly lastLeaseId: number;
  readonly lastFencingToken: number;
  readonly appliedIndex: number;
}

const big = (n: number): bigint => BigInt(n);

function num(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('snapshot: a revision, id or token beyond 2^53');
  return Number(v);
}

/** Keys encoded per part by encodeKvStateInParts. */
export const keysPerSnapshotPart = 1000;

/** Binary snapshot of the KV state machine (protobuf KvStateSnapshot; values stored once). */
export function encodeKvState(p: KvStateParts): Uint8Array {
  return Buffer.concat([...encodeKvStateInParts(p)]);
}

/**
 * The snapshot's encoding in parts whose concatenation is the whole (protobuf appends repeated
 * fields of concatenated messages): first the scalars, events and leases, then the keys,
 * `keysPerPart` at a time, so a large state is encoded a bounded slice of work at a time.
 */
export function* encodeKvStateInParts(p: KvStateParts, keysPerPart = keysPerSnapshotPart): Generator<Uint8Array> {
  yield KvStateSnapshot.encode({
    revision: big(p.store.revision),
    compactRevision: big(p.store.compactRevision),
    appliedIndex: big(p.appliedIndex),
    lastLeaseId: big(p.lastLeaseId),
    lastFencingToken: big(p.lastFencingToken),
    keys: [],
    events: p.store.eventKeys.map((e) => ({ revision: big(e.revision), keys: [...e.keys] })),
    leases: p.leases.map((l) => ({ id: big(l.id), ttlMs: big(l.ttlMs), fencingToken: big(l.fencingToken), keys: [...l.keys] })),
  }).finish();
  const { history } = p.store;
  for (let at = 0; at < history.length; at += keysPerPart) {
    const keys = history.slice(at, at + keysPerPart).map(([key, versions, count]) => ({
      key,
      versions: versions.slice(0, count).map((v): KvVersionState => ({
        value: v.kv.value, createRevision: big(v.kv.createRevision), modRevision: big(v.kv.modRevision),
        version: big(v.kv.version), lease: big(v.kv.lease), deleted: v.deleted,
      })),
    }));
    yield KvStateSnapshot.encode({
      revision: 0n, compactRevision: 0n, appliedIndex: 0n, lastLeaseId: 0n, lastFencingToken: 0n, keys, events: [], leases: [],
    }).finish();
  }
}

export function decodeKvState(bytes: Uint8Array): KvStateParts {
  const s = KvStateSnapshot.decode(bytes);
  return {
    store: {
      revision: num(s.revision),
      compactRevision: num(s.compactRevision),
      history: s.keys.map((k): HistoryRef => {
        const versions = k.versions.map((v): Version => ({
          kv: {
            key: k.key, value: v.value, createRevision: num(v.createRevision), modRevision: num(v.modRevision),
            version: num(v.version), lease: num(v.lease),
          },
          deleted: v.deleted,
        }));
        return [k.key, versions, versions.length];
      }),
      eventKeys: s.events.map((e) => ({ revision: num(e.revision), keys: e.keys })),
    },
    leases: s.leases.map((l) => ({ id: num(l.id), ttlMs: num(l.ttlMs), fencingToken: num(l.fencingToken), keys: l.keys })),
    lastLeaseId: num(s.lastLeaseId),
    lastFencingToken: num(s.lastFencingToken),
    appliedIndex: num(s.appliedIndex),
  };
}
