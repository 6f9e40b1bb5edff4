// The Lowe/Porcupine memo: a (set of linearized operations, model state) pair that was already
// reached leads to the same sub-search, so reaching it again is pruned. The set is a bitset whose
// hash is kept incrementally (Zobrist: XOR of a fixed random word per operation), so adding or
// removing an operation costs O(1) and only a cache insert copies the words.

export class LinearizedSet {
  private readonly words: Uint32Array;
  private hashValue = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  get hash(): number {
    return this.hashValue;
  }

  add(index: number): void {
    this.flip(index);
  }

  remove(index: number): void {
    this.flip(index);
  }

  snapshot(): Uint32Array {
    return this.words.slice();
  }

  equalsWords(other: Uint32Array): boolean {
    for (let i = 0; i < other.length; i++) if (other[i] !== this.words[i]) return false;
    return true;
  }

  private flip(index: number): void {
    const word = index >>> 5;
    this.words[word] = (this.words[word] ?? 0) ^ (1 << (index & 31));
    this.hashValue = (this.hashValue ^ zobrist(index)) >>> 0;
  }
}

/** murmur3's 32-bit finalizer: a fixed, well-mixed word per operation index. */
function zobrist(index: number): number {
  let h = (index + 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class StateCache<S> {
  private readonly buckets = new Map<number, { words: Uint32Array; state: S }[]>();
  private sizeValue = 0;

  constructor(private readonly equal: (a: S, b: S) => boolean) {}

  get size(): number {
    return this.sizeValue;
  }

  /** Records the pair; false when it was already there. */
  add(linearized: LinearizedSet, state: S): boolean {
    const bucket = this.buckets.get(linearized.hash);
    if (bucket !== undefined) {
      for (const seen of bucket) {
        if (linearized.equalsWords(seen.words) && this.equal(seen.state, state)) return false;
      }
    }
    const fresh = { words: linearized.snapshot(), state };
    if (bucket === undefined) this.buckets.set(linearized.hash, [fresh]);
    else bucket.push(fresh);
    this.sizeValue++;
    return true;
  }
}
