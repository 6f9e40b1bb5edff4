/**
 * `run`, or a rejection naming `where` once `ms` pass without it settling. A seeded loop awaits
 * each seed through it, so a seed that hangs fails with its name instead of ending as the test's
 * timeout, which names none.
 */
export async function withinMs<T>(ms: number, where: string, run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${where}: not settled after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run, late]);
  } finally {
    clearTimeout(timer);
  }
}
