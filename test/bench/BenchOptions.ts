import { resolve } from 'node:path';

export const scenarioNames = ['authoritative', 'convergent', 'tracing', 'tls', 'heal', 'scale', 'kvscale', 'kvwatch', 'docsize', 'echo'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

/** Everything a run is told on the command line, with the sizes its mode implies. */
export interface BenchOptions {
  readonly quick: boolean;
  readonly only: readonly ScenarioName[];
  /** Skip etcd and Redis (the smoke test; a machine without root). */
  readonly references: boolean;
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  /**
   * The unmeasured round a variant runs before its measured rounds (Variant.warmUp): at least
   * `warmupRoundMs`, and at least `warmupRoundCalls` calls. On fresh node processes, sequential
   * puts took about twice the CPU per put of their steady state for their first 3,000 or so,
   * and with the optimizing compilers off there was no such slope: V8 tiers functions up by
   * calls, and calls that go one at a time take long to add up. The rounds' own short warm-up
   * (`warmupMs`) covers connections and caches, not that.
   */
  readonly warmupRoundMs: number;
  readonly warmupRoundCalls: number;
  readonly clients: number;
  readonly valueBytes: number;
  /** Updates per side for the heal scenario, and base documents for its size sweep. */
  readonly healDivergence: readonly number[];
  readonly healBaseDocuments: readonly number[];
  /** Wall-clock budget of the heal scenario: sizes it cannot write in time are skipped. */
  readonly healBudgetMs: number;
  /** Checkpoints (documents on the node) for the scale scenario. */
  readonly scaleCheckpoints: readonly number[];
  /** Wall-clock budget of the scale scenario: it stops at the checkpoint it cannot reach in time. */
  readonly scaleBudgetMs: number;
  /** Keys loaded into each authoritative store by the kvscale scenario. */
  readonly kvScaleKeys: number;
  /** Prefix watches the kvwatch scenario opens on each authoritative store. */
  readonly kvWatches: number;
  /** Edit histories of the texts the docsize scenario writes to. */
  readonly documentEdits: readonly number[];
  readonly outDir: string;
  /** Write node CPU profiles (--cpu-prof) into the results folder. */
  readonly profile: boolean;
}

const usage = `usage: npm run bench -- [--quick] [--only a,b] [--no-references] [--rounds n] [--round-ms ms]
  [--heal-budget-s s] [--scale-budget-s s] [--profile] [--out dir]
scenarios: ${scenarioNames.join(', ')}`;

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const args = [...argv];
  const flag = (name: string): boolean => {
    const i = args.indexOf(name);
    if (i >= 0) args.splice(i, 1);
    return i >= 0;
  };
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined) throw new Error(`${name} needs a value\n${usage}`);
    args.splice(i, 2);
    return v;
  };
  if (flag('--help') || flag('-h')) throw new Error(usage);
  const quick = flag('--quick');
  const references = !flag('--no-references');
  const profile = flag('--profile');
  const only = (value('--only') ?? scenarioNames.join(',')).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of only) if (!(scenarioNames as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}\n${usage}`);
  const rounds = Number(value('--rounds') ?? (quick ? 1 : 3));
  const roundMs = Number(value('--round-ms') ?? (quick ? 300 : 3000));
  const outDir = resolve(value('--out') ?? resolve(__dirname, 'results'));
  const healBudgetS = Number(value('--heal-budget-s') ?? (quick ? 60 : 270));
  const scaleBudgetS = Number(value('--scale-budget-s') ?? (quick ? 20 : 600));
  if (args.length > 0) throw new Error(`unknown arguments: ${args.join(' ')}\n${usage}`);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isFinite(roundMs) || roundMs < 100) throw new Error(`bad --rounds or --round-ms\n${usage}`);
  if (!(healBudgetS > 0) || !(scaleBudgetS > 0)) throw new Error(`bad --heal-budget-s or --scale-budget-s\n${usage}`);
  return {
    quick,
    only: only as ScenarioName[],
    references,
    rounds,
    roundMs,
    warmupMs: quick ? 100 : 700,
    warmupRoundMs: quick ? 200 : 3000,
    warmupRoundCalls: quick ? 20 : 5000,
    clients: 64,
    valueBytes: 256,
    healDivergence: quick ? [100] : [1_000, 10_000, 100_000],
    healBaseDocuments: quick ? [] : [2_000, 10_000, 20_000],
    healBudgetMs: healBudgetS * 1000,
    scaleCheckpoints: quick ? [500] : [10_000, 100_000, 1_000_000],
    scaleBudgetMs: scaleBudgetS * 1000,
    kvScaleKeys: quick ? 1_000 : 200_000,
    kvWatches: quick ? 200 : 10_000,
    documentEdits: quick ? [1_000] : [1_000, 10_000, 100_000],
    outDir,
    profile,
  };
}
