import { HashFn } from './stateHash';

/** Bytes of a tree node's hash and of a document's state hash inside the digest. */
export const digestHashBytes = 8;
export const docHashBytes = 16;
export const digestFanout = 16;
export const digestLeafLevel = 4; // 16^4 = 65536 leaf buckets

/**
 * A Merkle tree over (document id -> state hash) for anti-entropy. Leaves are buckets chosen by
 * the document id's hash; every tree node's hash is the XOR of the item hashes below it, so a
 * change costs one XOR per level. Two nodes descend from the root comparing only the children
 * of nodes that differ: the bytes exchanged grow with the number of differing documents and the
 * depth, not with the number of documents.
 */
export class DigestIndex {
  private readonly levels: Uint8Array[];
  /**
   * Per document one small array: leaf (2 bytes), item hash (digestHashBytes), state hash
   * (docHashBytes). A copy, so no hash buffer is retained: at a million documents the index is
   * one of the larger things a node keeps in memory.
   */
  private readonly items = new Map<string, Uint8Array>();
  private readonly leaves = new Map<number, Set<string>>();
  /** Per level, the number of documents under each node (so a descent step never walks leaves). */
  private readonly counts: Uint32Array[];
  private readonly encoder = new TextEncoder();

  constructor(private readonly hash: HashFn) {
    this.levels = Array.from({ length: digestLeafLevel + 1 }, (_, level) => new Uint8Array(digestFanout ** level * digestHashBytes));
    this.counts = Array.from({ length: digestLeafLevel + 1 }, (_, level) => new Uint32Array(digestFanout ** level));
  }

  /** Records a document's state hash (its first docHashBytes bytes are kept). */
  set(docId: string, stateHash: Uint8Array): void {
    const state = stateHash.subarray(0, docHashBytes);
    const prev = this.items.get(docId);
    if (prev !== undefined && equalBytes(stateOf(prev), state)) return;
    const idBytes = this.encoder.encode(docId);
    const leaf = prev !== undefined ? leafOf(prev) : this.leafOf(idBytes);
    const joined = new Uint8Array(idBytes.length + 1 + state.length);
    joined.set(idBytes, 0);
    joined.set(state, idBytes.length + 1);
    const item = this.hash(joined).subarray(0, digestHashBytes);
    if (prev !== undefined) this.fold(leaf, itemOf(prev));
    this.fold(leaf, item);
    const packed = new Uint8Array(2 + digestHashBytes + state.length);
    packed[0] = leaf >> 8;
    packed[1] = leaf & 0xff;
    packed.set(item, 2);
    packed.set(state, 2 + digestHashBytes);
    this.items.set(docId, packed);
    if (prev !== undefined) return;
    for (let level = digestLeafLevel, idx = leaf; level >= 0; level--, idx = Math.floor(idx / digestFanout)) {
      const counts = this.counts[level] as Uint32Array;
      counts[idx] = (counts[idx] ?? 0) + 1;
    }
    let set = this.leaves.get(leaf);
    if (set === undefined) this.leaves.set(leaf, (set = new Set()));
    set.add(docId);
  }

  /** Our hashes of the given nodes at `level`. */
  hashesAt(level: number, indexes: readonly number[]): Uint8Array[] {
    const arr = this.levelArray(level);
    return indexes.map((i) => arr.slice(i * digestHashBytes, (i + 1) * digestHashBytes));
  }

  /** The indexes (of `indexes`) whose hash differs from `theirs` (same order). */
  differing(level: number, indexes: readonly number[], theirs: readonly Uint8Array[]): number[] {
    const arr = this.levelArray(level);
    const nodes = digestFanout ** level;
    return indexes.filter((idx, k) => {
      if (!Number.isInteger(idx) || idx < 0 || idx >= nodes) return false;
      const t = theirs[k];
      return t === undefined || !equalBytes(t, arr.subarray(idx * digestHashBytes, (idx + 1) * digestHashBytes));
    });
  }

  /** Documents under node `index` of `level` (0 for an index outside the level). */
  countUnder(level: number, index: number): number {
    return this.counts[level]?.[index] ?? 0;
  }

  /**
   * Documents under node `index` of `level` with their state hashes, visiting only the
   * children that hold documents.
   */
  documentsUnder(level: number, index: number): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    const visit = (lv: number, idx: number): void => {
      if (this.countUnder(lv, idx) === 0) return;
      if (lv === digestLeafLevel) {
        for (const docId of this.leaves.get(idx) ?? []) out.set(docId, stateOf(this.items.get(docId) as Uint8Array));
        return;
      }
      for (let c = 0; c < digestFanout; c++) visit(lv + 1, idx * digestFanout + c);
    };
    if (level >= 0 && level <= digestLeafLevel) visit(level, index);
    return out;
  }

  private levelArray(level: number): Uint8Array {
    const arr = this.levels[level];
    if (arr === undefined) throw new RangeError(`digest level ${level} is outside 0..${digestLeafLevel}`);
    return arr;
  }

  private fold(leaf: number, item: Uint8Array): void {
    let idx = leaf;
    for (let level = digestLeafLevel; level >= 0; level--) {
      const arr = this.levels[level] as Uint8Array;
      for (let i = 0; i < digestHashBytes; i++) arr[idx * digestHashBytes + i] = (arr[idx * digestHashBytes + i] ?? 0) ^ (item[i] ?? 0);
      idx = Math.floor(idx / digestFanout);
    }
  }

  private leafOf(idBytes: Uint8Array): number {
    const h = this.hash(idBytes);
    return ((h[0] ?? 0) << 8) | (h[1] ?? 0);
  }
}

function leafOf(packed: Uint8Array): number {
  return ((packed[0] ?? 0) << 8) | (packed[1] ?? 0);
}

function itemOf(packed: Uint8Array): Uint8Array {
  return packed.subarray(2, 2 + digestHashBytes);
}

function stateOf(packed: Uint8Array): Uint8Array {
  return packed.subarray(2 + digestHashBytes);
}

export function childrenOf(indexes: readonly number[]): number[] {
  return indexes.flatMap((i) => Array.from({ length: digestFanout }, (_, c) => i * digestFanout + c));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
