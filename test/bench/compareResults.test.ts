import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareResults, roundsApart } from './compareResults';
import { readRun, resolveRun } from './compareRuns';
import { ResultsDoc } from './formatResults';
import { MachineFacts } from './machineFacts';
import { Measurement } from './Measurement';
import { Target } from './Target';

// Two made-up runs side by side: rows matched by scenario, system, workload and clients; a
// change marked only when the rounds of the two runs do not overlap; what differs between the
// machines or the options listed before any number.

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function row(scenario: string, system: string, workload: string, clients: number, opsRounds: readonly number[], extra: Record<string, number> = {}): Measurement {
  const rounds = opsRounds.map((opsPerSec) => ({ opsPerSec, ...extra }));
  return { scenario, system, workload, clients, rounds, median: { opsPerSec: median(opsRounds), ...extra } };
}

const machine: MachineFacts = {
  host: 'h', os: 'Linux', cpus: 2, cpuModel: 'cpu', memoryGiB: 24, loadAverage: [1, 1, 1], node: 'v20.20.2', commit: 'a'.repeat(40), dirty: false,
  packages: { yjs: '13.6.33' },
};

function run(measurements: Measurement[], targets: Target[] = [], over: { machine?: Partial<MachineFacts>; options?: object } = {}): ResultsDoc {
  return {
    startedAt: '2026-11-26T00:00:00.000Z', durationS: 10, command: 'npm run bench', options: { quick: false, rounds: 3, roundMs: 3000, ...over.options },
    machine: { ...machine, ...over.machine }, versions: {}, notes: [], targets, measurements,
  };
}

const lineOf = (md: string, text: string): string => md.split('\n').find((l) => l.includes(text)) ?? `(no line with ${text})`;

describe('roundsApart', () => {
  it('marks a change only when every round of one run lies beyond every round of the other', () => {
    expect(roundsApart([100, 110, 120], [130, 140, 150])).toBe(true);
    expect(roundsApart([130, 140, 150], [100, 110, 120])).toBe(true);
    expect(roundsApart([100, 110, 130], [125, 140, 150])).toBe(false);
    // One round on either side is not enough to tell a change from the spread.
    expect(roundsApart([100], [200, 210])).toBe(false);
    expect(roundsApart([100, 101], [200])).toBe(false);
  });
});

describe('compareResults', () => {
  it('shows each metric of a row both runs measured as before → after with its ratio', () => {
    const before = run([row('echo', 'grpc-js echo', 'unary', 64, [1000, 1100, 1200], { p50Ms: 10 })]);
    const after = run([row('echo', 'grpc-js echo', 'unary', 64, [1900, 2000, 2100], { p50Ms: 5 })]);
    const line = lineOf(compareResults(before, after), '| grpc-js echo |');
    expect(line).toContain('1,100 → 2,000 (1.82x) *');
    expect(line).toContain('10.00 → 5.00 (0.50x)');
    // p50 is the same in every round: one value per run, so both runs' spreads are a point
    // each and lie apart.
    expect(line).toContain('(0.50x) *');
  });

  it('leaves overlapping rounds unmarked', () => {
    const before = run([row('echo', 'grpc-js echo', 'unary', 64, [1000, 1500, 2000])]);
    const after = run([row('echo', 'grpc-js echo', 'unary', 64, [1400, 1600, 1800])]);
    const line = lineOf(compareResults(before, after), '| grpc-js echo |');
    expect(line).toContain('1,500 → 1,600 (1.07x)');
    expect(line).not.toContain('*');
  });

  it('matches rows by clients too, and lists rows only one run has', () => {
    const before = run([row('echo', 'grpc-js echo', 'unary', 64, [1000]), row('echo', 'grpc-js echo', 'unary', 1, [300])]);
    const after = run([row('echo', 'grpc-js echo', 'unary', 64, [1200]), row('heal', 'concord', 'heal 1k', 2, [1])]);
    const md = compareResults(before, after);
    expect(lineOf(md, '| grpc-js echo | unary | 64 |')).toContain('1,000 → 1,200 (1.20x)');
    expect(md).toContain('- only before: grpc-js echo, unary, 1 clients');
    expect(md).toContain('- only after: concord, heal 1k, 2 clients');
  });

  it('says which run skipped a row instead of comparing it', () => {
    const skipped: Measurement = { scenario: 'echo', system: 'redis', workload: 'SET', clients: 50, rounds: [], median: {}, skipped: 'redis not available' };
    const md = compareResults(run([row('echo', 'redis', 'SET', 50, [9000])]), run([skipped]));
    expect(lineOf(md, '| redis |')).toContain('skipped after: redis not available');
  });

  it('lists machine facts and options that differ before the numbers, and nothing when they match', () => {
    const rows = [row('echo', 'grpc-js echo', 'unary', 64, [1000])];
    const same = compareResults(run(rows), run(rows));
    expect(same).not.toContain('Not like for like');
    const md = compareResults(run(rows), run(rows, [], { machine: { cpus: 4, packages: { yjs: '13.6.34' } }, options: { rounds: 1 } }));
    const warnings = md.slice(md.indexOf('Not like for like'), md.indexOf('## echo'));
    expect(warnings).toContain('CPUs differs: 2 before, 4 after');
    expect(warnings).toContain('yjs differs: 13.6.33 before, 13.6.34 after');
    expect(warnings).toContain('option rounds differs: 3 before, 1 after');
  });

  it('shows each target measured in either run with its status in both, and leaves out targets neither measured', () => {
    const t = (target: string, measured: string, met: boolean | undefined): Target => ({ target, measured, goal: '>= 1x', met });
    const md = compareResults(
      run([], [t('put / etcd', '0.80x', false), t('heal 1k', '3.38x', false), t('restart', '–', undefined)]),
      run([], [t('put / etcd', '1.10x', true), t('heal 1k', '–', undefined), t('restart', '–', undefined)]),
    );
    expect(lineOf(md, '| put / etcd |')).toBe('| put / etcd | >= 1x | 0.80x | 1.10x | **missed** → met |');
    expect(lineOf(md, '| heal 1k |')).toBe('| heal 1k | >= 1x | 3.38x | – | **missed** → not measured |');
    expect(md).not.toContain('| restart |');
  });
});

describe('compareRuns', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-compare-'));
    fs.mkdirSync(path.join(dir, 'run-a'));
    fs.writeFileSync(path.join(dir, 'run-a', 'results.json'), JSON.stringify(run([row('echo', 'grpc-js echo', 'unary', 64, [1000])])));
    fs.writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ hello: 'world' }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds a run by its file, its folder, or its folder name under the results folder', () => {
    const file = path.join(dir, 'run-a', 'results.json');
    expect(resolveRun(file, '/')).toBe(file);
    expect(resolveRun(path.join(dir, 'run-a'), '/')).toBe(file);
    expect(resolveRun('run-a', os.tmpdir(), dir)).toBe(file);
    expect(readRun(file).measurements).toHaveLength(1);
  });

  it('prints the comparison of two runs from the command line, and its usage (exit 2) when misused', async () => {
    const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', path.join(__dirname, 'compareRuns.ts'), ...args], (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });
    const runA = path.join(dir, 'run-a');
    const ok = await cli([runA, path.join(runA, 'results.json')]);
    expect(ok).toMatchObject({ code: 0 });
    expect(lineOf(ok.stdout, '| grpc-js echo |')).toContain('1,000 → 1,000 (1.00x)');
    const bad = await cli([]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage: npm run bench:compare');
    const missing = await cli([path.join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no benchmark run');
  }, 30_000);

  it('fails clearly on a run that does not exist or a file that is not a run', () => {
    expect(() => resolveRun('no-such-run', dir, dir)).toThrow('no benchmark run no-such-run');
    expect(() => readRun(path.join(dir, 'other.json'))).toThrow('is not the results.json of a benchmark run');
    expect(() => readRun(path.join(dir, 'missing.json'))).toThrow('cannot read');
  });
});
