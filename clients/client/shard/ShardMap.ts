import type { KvClient } from '../saga/SagaStore';

/** One shard: the keys from `from` (inclusive) to the next shard's `from`, held by one cluster. */
export interface Shard {
  readonly name: string;
  readonly from: string;
  readonly client: KvClient;
}

/**
 * Key ranges to shards, as etcd-backed systems and CockroachDB split a key space: each shard is
 * a whole Concord cluster (its own voters and log), holding the keys from its `from` up to the
 * next shard's. The first shard starts at '' so every key has a shard. Keys compare as JS strings,
 * as in the KV store.
 */
export class ShardMap {
  readonly shards: readonly Shard[];

  constructor(shards: readonly Shard[]) {
    if (shards.length === 0) throw new Error('a shard map needs at least one shard');
    const sorted = [...shards].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
    if (sorted[0]!.from !== '') throw new Error('the first shard must start at "" (every key needs a shard)');
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.from === sorted[i - 1]!.from) throw new Error(`shards ${sorted[i - 1]!.name} and ${sorted[i]!.name} both start at ${JSON.stringify(sorted[i]!.from)}`);
    if (new Set(sorted.map((s) => s.name)).size !== sorted.length) throw new Error('shard names must differ');
    this.shards = sorted;
  }

  /** The shard holding `key`. */
  shardOf(key: string): Shard {
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.shards[mid]!.from <= key) lo = mid;
      else hi = mid - 1;
    }
    return this.shards[lo]!;
  }

  byName(name: string): Shard {
    const s = this.shards.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no shard ${name}`);
    return s;
  }

  /**
   * The shards [key, rangeEnd) spans, each with the part of the range it holds (rangeEnd '\u0000':
   * every key from `key` on), in key order.
   */
  shardsOf(key: string, rangeEnd: string): { shard: Shard; key: string; rangeEnd: string }[] {
    const out: { shard: Shard; key: string; rangeEnd: string }[] = [];
    const open = rangeEnd === '\u0000';
    for (let i = this.shards.indexOf(this.shardOf(key)); i < this.shards.length; i++) {
      const s = this.shards[i]!;
      const next = this.shards[i + 1]?.from;
      const from = s.from > key ? s.from : key;
      if (!open && from >= rangeEnd) break;
      const end = next === undefined ? rangeEnd : open || next < rangeEnd ? next : rangeEnd;
      out.push({ shard: s, key: from, rangeEnd: end });
      if (next === undefined || (!open && next >= rangeEnd)) break;
    }
    return out;
  }
}
