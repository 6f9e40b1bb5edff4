// A small seeded PRNG shared by the simulators and randomized tests: one 32-bit seed determines
// the whole sequence, so a failing run is replayed from its seed alone. sfc32 (Chris Doty-
// Humphrey's Small Fast Counting generator) with its state expanded from the seed by
// splitmix32; plenty for test scheduling, not for cryptography.

export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n); n must be a positive integer. */
  int(n: number): number;
  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
}

export function makePrng(seed: number): Prng {
  let s = seed >>> 0;
  const splitmix32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next32();

  const next = (): number => next32() / 0x1_0000_0000;
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`makePrng: int(${n}) needs a positive integer`);
    return Math.floor(next() * n);
  };
  return {
    next,
    int,
    pick<T>(items: readonly T[]): T {
      const item = items[int(items.length)];
      if (item === undefined) throw new Error('makePrng: pick from an empty array');
      return item;
    },
    chance: (p: number): boolean => next() < p,
  };
}
