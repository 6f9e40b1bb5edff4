/** Runs `fn(i)` for i in [0, count) with at most `limit` running at once (bounded load). */
export async function forEachLimit(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, count) }, async () => {
    for (let i = next++; i < count; i = next++) await fn(i);
  }));
}
