import * as fs from 'node:fs';
import * as path from 'node:path';
import { BenchContext } from './BenchContext';
import { BenchOptions, parseBenchArgs, ScenarioName } from './BenchOptions';
import { evaluateTargets } from './evaluateTargets';
import { Fixtures } from './Fixtures';
import { formatResults, ResultsDoc } from './formatResults';
import { machineFacts } from './machineFacts';
import { profiledRows, readNodeProfiles } from './nodeProfiles';
import { Progress } from './Progress';
import { ensureReferences } from './references/ensureReferences';
import { authoritativeSteps, authoritativeWrites } from './scenarios/authoritativeWrites';
import { convergentSteps, convergentWrites } from './scenarios/convergentWrites';
import { echoCeiling, echoSteps } from './scenarios/echoCeiling';
import { healAfterSplit, healSteps } from './scenarios/healAfterSplit';
import { scaleDocuments, scaleSteps } from './scenarios/scaleDocuments';
import { kvScale, kvScaleSteps } from './scenarios/kvScale';
import { kvWatch, kvWatchSteps } from './scenarios/kvWatch';
import { documentSize, documentSizeSteps } from './scenarios/documentSize';
import { tracingCost, tracingSteps } from './scenarios/tracingCost';
import { tlsCost, tlsSteps } from './scenarios/tlsCost';

// The benchmark run (`npm run bench` enters through benchMain). Runs the chosen scenarios in a
// fixed order (the ones that only read the shared cluster before the one that cuts its links),
// writes results.json and results.md into test/bench/results/<time>-<commit>/ (and latest.*),
// and prints the Markdown.

interface Scenario {
  readonly steps: (ctx: BenchContext) => number;
  readonly run: (ctx: BenchContext, fx: Fixtures) => Promise<void>;
}

const scenarios: Record<ScenarioName, Scenario> = {
  echo: { steps: echoSteps, run: echoCeiling },
  authoritative: { steps: authoritativeSteps, run: authoritativeWrites },
  convergent: { steps: convergentSteps, run: convergentWrites },
  tracing: { steps: tracingSteps, run: tracingCost },
  tls: { steps: tlsSteps, run: tlsCost },
  heal: { steps: healSteps, run: healAfterSplit },
  scale: { steps: scaleSteps, run: scaleDocuments },
  kvscale: { steps: kvScaleSteps, run: kvScale },
  kvwatch: { steps: kvWatchSteps, run: kvWatch },
  docsize: { steps: documentSizeSteps, run: documentSize },
};
// docsize runs on the fresh shared cluster: after the convergent scenario its writes into the
// large texts took several times longer while the nodes' main threads were mostly idle.
const order: ScenarioName[] = ['echo', 'docsize', 'authoritative', 'convergent', 'tracing', 'tls', 'heal', 'kvscale', 'kvwatch', 'scale'];

export async function runBench(options: BenchOptions, command: string, quiet = false): Promise<{ doc: ResultsDoc; dir: string }> {
  const started = Date.now();
  const machine = machineFacts();
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const runDir = path.join(options.outDir, `${stamp}-${machine.commit.slice(0, 7)}${options.quick ? '-quick' : ''}`);
  fs.mkdirSync(runDir, { recursive: true });
  const chosen = order.filter((s) => options.only.includes(s));
  const needsRefs = chosen.some((s) => s === 'authoritative' || s === 'convergent' || s === 'kvscale' || s === 'kvwatch');
  const refs = needsRefs ? ensureReferences(options.references, (l) => process.stderr.write(`${l}\n`)) : { etcd: false, redis: false, notes: [] };
  const probe = new BenchContext(options, new Progress(0, true), refs, runDir);
  const progress = new Progress(chosen.reduce((n, s) => n + scenarios[s].steps(probe), 0), quiet);
  const ctx = new BenchContext(options, progress, refs, runDir);
  refs.notes.forEach((n) => ctx.note(n));
  const fx = new Fixtures(ctx);
  const onSignal = (): void => {
    progress.log('interrupted: stopping servers');
    void fx.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  try {
    for (const s of chosen) {
      try {
        await scenarios[s].run(ctx, fx);
      } catch (err) {
        ctx.note(`scenario ${s} failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
  } finally {
    await fx.stopAll();
    process.off('SIGINT', onSignal);
    progress.stop();
  }
  // The nodes wrote their profiles as they exited (stopAll).
  const profiles = options.profile ? profiledRows(ctx.measurements, readNodeProfiles(runDir)) : undefined;
  const doc: ResultsDoc = {
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    command,
    options,
    machine,
    versions: { concord: machine.commit.slice(0, 12), ...ctx.versions },
    notes: ctx.notes,
    targets: evaluateTargets(ctx.measurements),
    measurements: ctx.measurements,
    ...(profiles === undefined ? {} : { profiles }),
  };
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  const md = formatResults(doc);
  fs.writeFileSync(path.join(runDir, 'results.json'), json);
  fs.writeFileSync(path.join(runDir, 'results.md'), md);
  fs.writeFileSync(path.join(options.outDir, 'latest.json'), json);
  fs.writeFileSync(path.join(options.outDir, 'latest.md'), md);
  return { doc, dir: runDir };
}

/** `npm run bench` (see benchMain): parses the arguments, runs, prints the Markdown; exits. */
export function runBenchCli(argv: readonly string[]): void {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  runBench(options, ['npm run bench --', ...argv].join(' ')).then(({ doc, dir }) => {
    process.stdout.write(formatResults(doc));
    process.stderr.write(`results: ${path.relative(process.cwd(), dir)}/results.{md,json}\n`);
    process.exit(0);
  }, (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
