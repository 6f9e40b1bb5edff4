import { HashFn } from './stateHash';

export const digestHashBytes = 16;

/**
 * A digest of (document id -> state hash) split into buckets by document id, for anti-entropy:
 * two nodes compare bucket hashes first and then only the documents in buckets that differ.
 * A bucket's hash is the XOR of its documents' item hashes, so a change costs O(1) to fold in.
 */
export class DigestIndex {
  readonly bucketCount: number;
  private readonly buckets: Uint8Array[];
  private readonly items = new Map<string, { bucket: number; item: Uint8Array; state: Uint8Array }>();
  private readonly encoder = new TextEncoder();

  constructor(private readonly hash: HashFn, bucketCount = 1024) {
    this.bucketCount = bucketCount;
    this.buckets = Array.from({ length: bucketCount }, () => new Uint8Array(digestHashBytes));
  }

  set(docId: string, stateHash: Uint8Array): void {
    const prev = this.items.get(docId);
    if (prev !== undefined && equalBytes(prev.state, stateHash)) return;
    const idBytes = this.encoder.encode(docId);
    const bucket = prev?.bucket ?? this.bucketOf(idBytes);
    const joined = new Uint8Array(idBytes.length + 1 + stateHash.length);
    joined.set(idBytes, 0);
    joined.set(stateHash, idBytes.length + 1);
    const item = this.hash(joined).subarray(0, digestHashBytes);
    const b = this.buckets[bucket] as Uint8Array;
    if (prev !== undefined) xorInto(b, prev.item);
    xorInto(b, item);
    this.items.set(docId, { bucket, item, state: stateHash });
  }

  bucketHashes(): Uint8Array[] {
    return this.buckets;
  }

  /** Indexes of buckets whose hash differs from `theirs` (all of them if the count differs). */
  differingBuckets(theirs: readonly Uint8Array[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.bucketCount; i++) {
      const t = theirs[i];
      if (t === undefined || !equalBytes(t, this.buckets[i] as Uint8Array)) out.push(i);
    }
    return out;
  }

  /** The documents in the given buckets with their state hashes. */
  documentsIn(buckets: readonly number[]): Map<string, Uint8Array> {
    const wanted = new Set(buckets);
    const out = new Map<string, Uint8Array>();
    for (const [docId, v] of this.items) if (wanted.has(v.bucket)) out.set(docId, v.state);
    return out;
  }

  private bucketOf(idBytes: Uint8Array): number {
    const h = this.hash(idBytes);
    return (((h[0] ?? 0) << 8) | (h[1] ?? 0)) % this.bucketCount;
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function xorInto(target: Uint8Array, x: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) ^ (x[i] ?? 0);
}
