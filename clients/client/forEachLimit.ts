/**
 * Runs `fn(i)` for i in [0, count) with at most `limit` running at once (bounded load). Once one
 * fails, no further one starts; the first failure is thrown after those running have ended.
 */
export async function forEachLimit(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), count) }, async () => {
    for (let i = next++; i < count && !failed; i = next++) {
      try {
        await fn(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  }));
}
