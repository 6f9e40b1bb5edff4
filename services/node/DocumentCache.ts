export interface DocumentCacheOptions<E> {
  /** Most entries kept... */
  readonly documentsMax: number;
  /** ...and most total weight (the owner says what an entry weighs). */
  readonly weightMax: number;
  readonly weight: (entry: E) => number;
  /** False while an entry must stay (a write in flight, a compaction running). */
  readonly evictable: (entry: E) => boolean;
  /** Called with each entry as it leaves. */
  readonly onEvict?: (id: string, entry: E) => void;
}

/**
 * The loaded documents of a node, least recently used first, bounded by count and by weight.
 * Entries that are not evictable stay even past the bounds (their number is bounded by the
 * writes in flight); they leave on a later trim once they are idle.
 */
export class DocumentCache<E> {
  private readonly entries = new Map<string, E>();
  private weightTotal = 0;
  private evictedTotal = 0;

  constructor(private readonly opts: DocumentCacheOptions<E>) {
    if (!(opts.documentsMax >= 1) || !(opts.weightMax >= 0)) throw new RangeError('a document cache holds at least one document');
  }

  /** The entry, now the most recently used. */
  get(id: string): E | undefined {
    const e = this.entries.get(id);
    if (e !== undefined) {
      this.entries.delete(id);
      this.entries.set(id, e);
    }
    return e;
  }

  /** The entry, leaving the order alone. */
  peek(id: string): E | undefined {
    return this.entries.get(id);
  }

  /** Adds an entry as the most recently used, evicting idle ones first to make room for it. */
  add(id: string, entry: E): void {
    this.trim(1, this.opts.weight(entry));
    this.entries.set(id, entry);
    this.weightTotal += this.opts.weight(entry);
  }

  /** Tells the cache an entry's weight changed by `delta` (entries only change while held). */
  reweigh(delta: number): void {
    this.weightTotal += delta;
  }

  /** Evicts idle entries, oldest first, until the bounds leave room for `count` more of `weight`. */
  trim(count = 0, weight = 0): void {
    const { documentsMax, weightMax } = this.opts;
    if (this.entries.size + count <= documentsMax && this.weightTotal + weight <= weightMax) return;
    for (const [id, e] of this.entries) {
      if (this.entries.size + count <= documentsMax && this.weightTotal + weight <= weightMax) return;
      if (!this.opts.evictable(e)) continue;
      this.entries.delete(id);
      this.weightTotal -= this.opts.weight(e);
      this.evictedTotal++;
      this.opts.onEvict?.(id, e);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get weight(): number {
    return this.weightTotal;
  }

  get evicted(): number {
    return this.evictedTotal;
  }

  /** Every entry with its id, least recently used first. */
  all(): IterableIterator<[string, E]> {
    return this.entries.entries();
  }
}
