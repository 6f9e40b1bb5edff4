/**
 * A FIFO of items with increasing sequence numbers: O(1) push and shift (a moving head over an
 * array, compacted now and then) and O(log n) lookup of the first item after a sequence number,
 * so a long replication backlog costs nothing per write.
 */
export class SeqQueue<T extends { readonly seq: number }> implements Iterable<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Index (from the front) of the first item with seq > `seq`, or -1. */
  firstIndexAfter(seq: number): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.items[mid] as T).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.items.length ? lo - this.head : -1;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
