import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { KvStateSnapshot } from '../../../proto/gen/concord/v1/kv_state';
import { MvccDump, Version } from './MvccStore';

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
  const n = p.store.keys.length;
  for (let at = 0; at < n; at += keysPerPart) yield encodeKeys(p.store, at, Math.min(at + keysPerPart, n));
}

/**
 * `KvStateSnapshot { keys: d.keys[from..to) }` written field by field, byte for byte what the
 * generated encoder writes (tested), without building a message object and a BigInt per field
 * first: that made snapshot encoding allocate several objects per version, most of its cost
 * and garbage at 200,000 keys.
 */
function encodeKeys(d: MvccDump, from: number, to: number): Uint8Array {
  const w = new BinaryWriter();
  for (let k = from; k < to; k++) {
    const key = d.keys[k] as string;
    const versions = d.lists[k] as readonly Version[];
    const count = d.counts[k] as number;
    w.uint32(tag(6, lengthDelimited)).fork();
    if (key.length > 0) w.uint32(tag(1, lengthDelimited)).string(key);
    for (let i = 0; i < count; i++) {
      const v = versions[i] as Version;
      w.uint32(tag(2, lengthDelimited)).fork();
      if (v.kv.value.length > 0) w.uint32(tag(1, lengthDelimited)).bytes(v.kv.value);
      varintField(w, 2, v.kv.createRevision);
      varintField(w, 3, v.kv.modRevision);
      varintField(w, 4, v.kv.version);
      varintField(w, 5, v.kv.lease);
      if (v.deleted) w.uint32(tag(6, varint)).bool(true);
      w.join();
    }
    w.join();
  }
  return w.finish();
}

const varint = 0;
const lengthDelimited = 2;
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** A uint64 field from a number, omitted at 0 as proto3 does. */
function varintField(w: BinaryWriter, field: number, n: number): void {
  if (n === 0) return;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`snapshot: ${n} is not a uint64`);
  w.uint32(tag(field, varint));
  if (n <= 0xffffffff) w.uint32(n);
  else w.uint64(n);
}

export function decodeKvState(bytes: Uint8Array): KvStateParts {
  const s = KvStateSnapshot.decode(bytes);
  return {
    store: {
      revision: num(s.revision),
      compactRevision: num(s.compactRevision),
      keys: s.keys.map((k) => k.key),
      lists: s.keys.map((k) => k.versions.map((v): Version => ({
        kv: {
          key: k.key, value: v.value, createRevision: num(v.createRevision), modRevision: num(v.modRevision),
          version: num(v.version), lease: num(v.lease),
        },
        deleted: v.deleted,
      }))),
      counts: s.keys.map((k) => k.versions.length),
      eventKeys: s.events.map((e) => ({ revision: num(e.revision), keys: e.keys })),
    },
    leases: s.leases.map((l) => ({ id: num(l.id), ttlMs: num(l.ttlMs), fencingToken: num(l.fencingToken), keys: l.keys })),
    lastLeaseId: num(s.lastLeaseId),
    lastFencingToken: num(s.lastFencingToken),
    appliedIndex: num(s.appliedIndex),
  };
}
