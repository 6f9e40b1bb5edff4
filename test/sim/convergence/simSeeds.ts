/**
 * Which seeds a test run uses. `SIM_SEED=123` replays one seed (and prints its trace);
 * `SIM_SEEDS` extends or replaces the default list: a count (`SIM_SEEDS=2000`: seeds 1..2000),
 * a range (`SIM_SEEDS=5000..5999`) or a list (`SIM_SEEDS=7,42,99`).
 */
export interface SeedPlan {
  readonly seeds: number[];
  /** True when one seed is replayed: the run prints its whole trace. */
  readonly replay: boolean;
}

export function seedPlan(env: NodeJS.ProcessEnv, defaultCount: number): SeedPlan {
  const one = env.SIM_SEED;
  if (one !== undefined && one !== '') return { seeds: [parseSeed(one)], replay: true };
  const many = env.SIM_SEEDS;
  if (many === undefined || many === '') return { seeds: range(1, defaultCount), replay: false };
  const span = /^(\d+)\.\.(\d+)$/.exec(many);
  if (span !== null) return { seeds: range(parseSeed(span[1] ?? ''), parseSeed(span[2] ?? '')), replay: false };
  if (many.includes(',')) return { seeds: many.split(',').map(parseSeed), replay: false };
  return { seeds: range(1, parseSeed(many)), replay: false };
}

export function replayCommand(seed: number): string {
  return `SIM_SEED=${seed} npx jest test/sim/convergence`;
}

function parseSeed(s: string): number {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new Error(`bad simulation seed "${s}"`);
  return n;
}

function range(first: number, last: number): number[] {
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
}
