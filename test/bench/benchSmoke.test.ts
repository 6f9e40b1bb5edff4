import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBenchArgs } from './BenchOptions';
import { ResultsDoc } from './formatResults';
import { runBench } from './runBench';

// Keeps the harness from rotting: its quickest mode against Concord alone (no etcd or Redis)
// must run every scenario and write well-formed results. Numbers are never asserted here:
// this shared machine makes them noise, and the bench exists to report them, not to gate.

describe('bench harness (smoke)', () => {
  let outDir = '';
  beforeAll(() => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-bench-smoke-'));
  });
  afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

  it('runs every scenario in quick mode and writes a JSON and a Markdown report', async () => {
    const options = parseBenchArgs(['--quick', '--no-references', '--out', outDir]);
    const { doc, dir } = await runBench(options, 'smoke', true);

    const parsed = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as ResultsDoc;
    expect(parsed.machine.commit).toEqual(doc.machine.commit);
    const scenarios = new Set(parsed.measurements.map((m) => m.scenario));
    expect([...scenarios].sort()).toEqual(['authoritative', 'convergent', 'convergent-50', 'docsize', 'echo', 'heal', 'kvscale', 'kvwatch', 'scale', 'tls', 'tracing']);
    // Collected, so a failure shows every malformed row and the run's notes at once.
    const problems: string[] = parsed.notes.filter((n) => n.includes('failed'));
    for (const m of parsed.measurements) {
      const row = `${m.scenario}/${m.system}/${m.workload}`;
      if (m.system === 'etcd' || m.system === 'redis') {
        if (m.skipped === undefined) problems.push(`${row}: reference not skipped`);
        continue;
      }
      if (m.skipped !== undefined) problems.push(`${row}: skipped: ${m.skipped}`);
      if (m.rounds.length === 0) problems.push(`${row}: no rounds`);
      // JSON has no NaN: a metric with no samples in a round (a tiny quick round) is null.
      const values = Object.values(m.median) as (number | null)[];
      if (!values.some((v) => typeof v === 'number')) problems.push(`${row}: no numbers`);
      if (values.some((v) => v !== null && typeof v !== 'number')) problems.push(`${row}: non-numeric metric`);
      if (m.scenario === 'kvwatch' && m.rounds.some((r) => r.missing !== 0 || r.duplicates !== 0)) problems.push(`${row}: watch events missing or repeated`);
    }
    expect({ problems, notes: problems.length > 0 ? parsed.notes : [] }).toEqual({ problems: [], notes: [] });
    expect(parsed.targets.length).toBeGreaterThan(5);
    const md = fs.readFileSync(path.join(dir, 'results.md'), 'utf8');
    expect(md).toContain('## Targets');
    expect(md).toContain('## heal');
    expect(md).toContain('## kvscale');
    expect(md).toMatch(/^tracing cost: -?[\d.,]+% throughput/m);
    expect(md).toMatch(/^mutual TLS cost, convergent LOCAL: -?[\d.,]+% throughput/m);
    expect(md).toMatch(/^mutual TLS cost, authoritative put: -?[\d.,]+% throughput/m);
  }, 120_000);

  it('with --profile, says where the nodes\' sampled CPU went in each Concord row', async () => {
    const options = parseBenchArgs(['--quick', '--no-references', '--only', 'convergent', '--profile', '--out', outDir]);
    const { doc, dir } = await runBench(options, 'smoke --profile', true);

    const concordRows = doc.measurements.filter((m) => m.system === 'concord' && m.skipped === undefined).map((m) => `${m.scenario}/${m.workload}`);
    const profiled = (doc.profiles ?? []).map((p) => `${p.scenario}/${p.workload}`);
    expect(profiled.sort()).toEqual(concordRows.sort());
    for (const p of doc.profiles ?? []) {
      expect(p.breakdown.samples).toBeGreaterThan(0);
      expect(p.breakdown.late).toBeGreaterThanOrEqual(0);
      expect(Object.values(p.breakdown.shares).reduce((a, x) => a + x, 0)).toBeCloseTo(1);
    }
    // Every typed write goes through Yjs on the node that takes it and on each peer.
    const local = (doc.profiles ?? []).find((p) => p.scenario === 'convergent' && p.workload === 'apply LOCAL');
    expect(local?.breakdown.shares.Yjs).toBeGreaterThan(0);
    const md = fs.readFileSync(path.join(dir, 'results.md'), 'utf8');
    expect(md).toContain("## Where the nodes' CPU went (`--profile`)");
    expect(md).toMatch(/^\| convergent \| apply LOCAL \| 64 \| [\d,]+ \| [\d,]+ \| [\d.]+% \|/m);
  }, 120_000);
});
