/** How many times each key was added and not yet removed; a key is gone once its count is zero. */
export class KeyCounts<K> {
  private readonly counts = new Map<K, number>();

  add(key: K): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  remove(key: K): void {
    const left = (this.counts.get(key) ?? 1) - 1;
    if (left > 0) this.counts.set(key, left);
    else this.counts.delete(key);
  }

  has(key: K): boolean {
    return this.counts.has(key);
  }

  keys(): IterableIterator<K> {
    return this.counts.keys();
  }

  clear(): void {
    this.counts.clear();
  }
}
