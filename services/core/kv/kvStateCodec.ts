import { KvStateSnapshot } from '../../../proto/gen/concord/v1/kv_state';
import { varintSize, writeVarint } from '../protobufVarint';
import { storedValue, writeValue } from './storedValue';
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
/** Event keys (of whole revisions) encoded per part at least, unless none are left. */
export const eventKeysPerSnapshotPart = 20_000;

/** Binary snapshot of the KV state machine (protobuf KvStateSnapshot; values stored once). */
export function encodeKvState(p: KvStateParts): Uint8Array {
  return Buffer.concat([...encodeKvStateInParts(p)]);
}

/**
 * The snapshot's encoding in parts whose concatenation is the whole (protobuf appends repeated
 * fields of concatenated messages): first the scalars and leases, then the kept revisions'
 * events, whole revisions of about `eventKeysPerPart` keys at a time, then the keys,
 * `keysPerPart` at a time, so a large state is encoded a bounded slice of work at a time. The
 * events went in the first part once: 200,000 of them (a bulk load in transactions) held the
 * loop for over 100 ms in one piece.
 */
export function* encodeKvStateInParts(p: KvStateParts, keysPerPart = keysPerSnapshotPart, eventKeysPerPart = eventKeysPerSnapshotPart): Generator<Uint8Array> {
  yield KvStateSnapshot.encode({
    revision: big(p.store.revision),
    compactRevision: big(p.store.compactRevision),
    appliedIndex: big(p.appliedIndex),
    lastLeaseId: big(p.lastLeaseId),
    lastFencingToken: big(p.lastFencingToken),
    keys: [],
    events: [],
    leases: p.leases.map((l) => ({ id: big(l.id), ttlMs: big(l.ttlMs), fencingToken: big(l.fencingToken), keys: [...l.keys] })),
  }).finish();
  const revisions = p.store.eventKeys;
  for (let from = 0; from < revisions.length;) {
    let to = from;
    for (let keys = 0; to < revisions.length && keys < eventKeysPerPart; to++) keys += (revisions[to] as MvccDump['eventKeys'][number]).keys.length;
    yield encodeEvents(revisions, from, to);
    from = to;
  }
  const n = p.store.keys.length;
  for (let at = 0; at < n; at += keysPerPart) yield encodeKeys(p.store, at, Math.min(at + keysPerPart, n));
}

/**
 * `KvStateSnapshot { events: revisions[from..to) }` written field by field, byte for byte what
 * the generated encoder writes (tested), sized first like encodeKeys.
 */
function encodeEvents(revisions: MvccDump['eventKeys'], from: number, to: number): Uint8Array {
  const sizes = new Float64Array(to - from);
  const keyBytes: number[] = [];
  let total = 0;
  for (let r = from; r < to; r++) {
    const { revision, keys } = revisions[r] as MvccDump['eventKeys'][number];
    let size = fieldSize(revision);
    for (const key of keys) {
      const kb = Buffer.byteLength(key, 'utf8');
      keyBytes.push(kb);
      size += 1 + varintSize(kb) + kb;
    }
    sizes[r - from] = size;
    total += 1 + varintSize(size) + size;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  let k = 0;
  for (let r = from; r < to; r++) {
    const { revision, keys } = revisions[r] as MvccDump['eventKeys'][number];
    out[at++] = tag(7, lengthDelimited);
    at = writeVarint(out, at, sizes[r - from] as number);
    at = varintField(out, at, 1, revision);
    for (const key of keys) {
      const kb = keyBytes[k++] as number;
      out[at++] = tag(2, lengthDelimited);
      at = writeVarint(out, at, kb);
      at += out.write(key, at, kb, 'utf8');
    }
  }
  if (at !== total) throw new Error(`snapshot: encoded ${at} bytes of events, sized ${total}`);
  return out;
}

/**
 * `KvStateSnapshot { keys: d.keys[from..to) }` written field by field, byte for byte what the
 * generated encoder writes (tested), without building a message object and a BigInt per field
 * first: that made snapshot encoding allocate several objects per version, most of its cost
 * and garbage at 200,000 keys. Every length is known before a byte is written (sizes first,
 * then one buffer of exactly that size): a growing writer copied its buffer as it doubled and
 * shifted every message longer than 127 bytes to widen its length prefix, which at 200,000
 * keys of 256 B values was half the encoding's time.
 */
function encodeKeys(d: MvccDump, from: number, to: number): Uint8Array {
  const keyBytes = new Uint32Array(to - from);
  const keySizes = new Float64Array(to - from);
  let total = 0;
  for (let k = from; k < to; k++) {
    const key = d.keys[k] as string;
    const versions = d.lists[k] as readonly Version[];
    const count = d.counts[k] as number;
    const kb = Buffer.byteLength(key, 'utf8');
    let size = kb > 0 ? 1 + varintSize(kb) + kb : 0;
    for (let i = 0; i < count; i++) {
      const vs = versionSize(versions[i] as Version);
      size += 1 + varintSize(vs) + vs;
    }
    keyBytes[k - from] = kb;
    keySizes[k - from] = size;
    total += 1 + varintSize(size) + size;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let k = from; k < to; k++) {
    const key = d.keys[k] as string;
    const versions = d.lists[k] as readonly Version[];
    const count = d.counts[k] as number;
    const kb = keyBytes[k - from] as number;
    out[at++] = tag(6, lengthDelimited);
    at = writeVarint(out, at, keySizes[k - from] as number);
    if (kb > 0) {
      out[at++] = tag(1, lengthDelimited);
      at = writeVarint(out, at, kb);
      at += out.write(key, at, kb, 'utf8');
    }
    for (let i = 0; i < count; i++) {
      const v = versions[i] as Version;
      out[at++] = tag(2, lengthDelimited);
      at = writeVarint(out, at, versionSize(v));
      const value = v.kv.value;
      if (value.length > 0) {
        out[at++] = tag(1, lengthDelimited);
        at = writeVarint(out, at, value.length);
        at += writeValue(out, at, value);
      }
      at = varintField(out, at, 2, v.kv.createRevision);
      at = varintField(out, at, 3, v.kv.modRevision);
      at = varintField(out, at, 4, v.kv.version);
      at = varintField(out, at, 5, v.kv.lease);
      if (v.deleted) {
        out[at++] = tag(6, varint);
        out[at++] = 1;
      }
    }
  }
  if (at !== total) throw new Error(`snapshot: encoded ${at} bytes of keys, sized ${total}`);
  return out;
}

const varint = 0;
const lengthDelimited = 2;
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** Bytes of a KvVersion message (its fields; not its tag and length). */
function versionSize(v: Version): number {
  const n = v.kv.value.length;
  return (n > 0 ? 1 + varintSize(n) + n : 0) + fieldSize(v.kv.createRevision) + fieldSize(v.kv.modRevision) + fieldSize(v.kv.version) + fieldSize(v.kv.lease) + (v.deleted ? 2 : 0);
}

/** A uint64 field from a number: omitted at 0 as proto3 does; else a one-byte tag and the varint. */
function fieldSize(n: number): number {
  if (n === 0) return 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`snapshot: ${n} is not a uint64`);
  return 1 + varintSize(n);
}

function varintField(out: Buffer, at: number, field: number, n: number): number {
  if (n === 0) return at;
  out[at] = tag(field, varint);
  return writeVarint(out, at + 1, n);
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
          key: k.key, value: storedValue(v.value), createRevision: num(v.createRevision), modRevision: num(v.modRevision),
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
