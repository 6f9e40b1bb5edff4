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

/** An entry with the count of moves (see DocumentCache) when it last moved to the young end. */
interface Slot<E> {
  readonly entry: E;
  movedAt: number;
}

/**
 * The loaded documents of a node, least recently used first, bounded by count and by weight.
 * Entries that are not evictable stay even past the bounds (their number is bounded by the
 * writes in flight); they leave on a later trim once they are idle.
 *
 * Recency is kept in the Map's order, but a `get` moves its entry to the young end (a Map delete
 * and set) only when it may have left the younger half: when at least half as many entries as
 * the cache holds were added or moved since it last moved. A document written over and over
 * moves once per half a cache of other documents, not on every access (moving on each one cost
 * 2.5% of a node's CPU while healing 10,000 updates per side). What that gives up: an entry a
 * `get` left in place had at least half the entries older than it at that moment, and it is
 * evicted only after every idle one of those was evicted or moved, so an entry used more
 * recently than one of them may still go first.
 */
export class DocumentCache<E> {
  private readonly entries = new Map<string, Slot<E>>();
  private weightTotal = 0;
  private evictedTotal = 0;
  /** Entries added or moved to the young end so far. */
  private moves = 0;

  constructor(private readonly opts: DocumentCacheOptions<E>) {
    if (!(opts.documentsMax >= 1) || !(opts.weightMax >= 0)) throw new RangeError('a document cache holds at least one document');
  }

  /** The entry, now among the most recently used (see the class comment). */
  get(id: string): E | undefined {
    const slot = this.entries.get(id);
    if (slot === undefined) return undefined;
    // Fewer moves since its own than half the entries: it is still in the younger half.
    if (this.moves - slot.movedAt >= this.entries.size >> 1) {
      this.entries.delete(id);
      this.entries.set(id, slot);
      slot.movedAt = ++this.moves;
    }
    return slot.entry;
  }

  /** The entry, leaving the order alone. */
  peek(id: string): E | undefined {
    return this.entries.get(id)?.entry;
  }

  /** Adds an entry as the most recently used, evicting idle ones first to make room for it. */
  add(id: string, entry: E): void {
    this.trim(1, this.opts.weight(entry));
    this.entries.set(id, { entry, movedAt: ++this.moves });
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
    for (const [id, { entry: e }] of this.entries) {
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
  *all(): IterableIterator<[string, E]> {
    for (const [id, slot] of this.entries) yield [id, slot.entry];
  }
}
