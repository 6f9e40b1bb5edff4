import { MachineFacts } from './machineFacts';
import { Measurement } from './Measurement';
import { ProfiledRow } from './nodeProfiles';
import { profileCategories } from './profileBreakdown';
import { Target } from './Target';

/** Columns shown per scenario: metric key, header, decimals. Per-round numbers stay in the JSON. */
export const columns: Record<string, [string, string, number][]> = {
  authoritative: [['opsPerSec', 'ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['errors', 'errors', 0], ['serverCpuMsPerCall', 'server CPU ms/call', 3], ['loadgenCpuMsPerCall', 'load-gen CPU ms/call', 3]],
  convergent: [['opsPerSec', 'ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['lagP50Ms', 'lag p50 ms', 2], ['lagP99Ms', 'lag p99 ms', 2], ['errors', 'errors', 0], ['serverCpuMsPerCall', 'server CPU ms/call', 3], ['loadgenCpuMsPerCall', 'load-gen CPU ms/call', 3]],
  'convergent-50': [['opsPerSec', 'ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['errors', 'errors', 0], ['serverCpuMsPerCall', 'server CPU ms/call', 3], ['loadgenCpuMsPerCall', 'load-gen CPU ms/call', 3]],
  tracing: [['opsPerSec', 'ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['errors', 'errors', 0], ['serverCpuMsPerCall', 'server CPU ms/call', 3], ['loadgenCpuMsPerCall', 'load-gen CPU ms/call', 3], ['opsVsOff', 'ops/s vs off', 3]],
  tls: [['opsPerSec', 'ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['errors', 'errors', 0], ['serverCpuMsPerCall', 'server CPU ms/call', 3], ['opsVsPlain', 'ops/s vs plaintext', 3]],
  echo: [['opsPerSec', 'ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['serverCpuMsPerCall', 'server CPU ms/call', 3], ['loadgenCpuMsPerCall', 'load-gen CPU ms/call', 3]],
  heal: [['totalDocs', 'docs total', 0], ['timeMs', 'time ms', 0], ['drainMs', 'drained ms', 0], ['bytes', 'bytes', 0], ['missingBytes', 'missing bytes', 0], ['bytesRatio', 'bytes/missing', 2], ['verified', 'verified', 0]],
  kvscale: [['keys', 'keys', 0], ['loadSeconds', 'load s', 1], ['loadKeysPerSec', 'load keys/s', 0], ['opsPerSec', 'put ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['maxMs', 'max ms', 0], ['errors', 'errors', 0], ['electionsDuringLoad', 'elections (load)', 0], ['electionsDuringWrites', 'elections (puts)', 0], ['leaderRssMiB', 'leader RSS MiB', 0]],
  kvwatch: [['opsPerSec', 'put ops/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['lagP50Ms', 'watch lag p50 ms', 2], ['lagP99Ms', 'watch lag p99 ms', 2], ['missing', 'events missing', 0], ['duplicates', 'events repeated', 0], ['errors', 'errors', 0], ['serverCpuMsPerCall', 'server CPU ms/put', 3]],
  docsize: [['documentBytes', 'document bytes', 0], ['opsPerSec', 'writes/s', 0], ['p50Ms', 'p50 ms', 2], ['p99Ms', 'p99 ms', 2], ['serverCpuMsPerCall', 'server CPU ms/write', 3], ['tokenBytes', 'token bytes', 0]],
  scale: [['documents', 'docs', 0], ['writeOpsPerSec', 'write ops/s', 0], ['rssMiB', 'RSS MiB', 0], ['bytesPerDoc', 'RSS B/doc', 0], ['restartMs', 'restart ms', 0], ['rssAfterRestartMiB', 'RSS after restart MiB', 0]],
};

export function targetStatus(t: Target): string {
  const status = t.met === undefined ? 'not measured' : t.met ? 'met' : t.beyondBound === true ? '**missed**, beyond the grpc-js bound' : '**missed**';
  return `${status}${t.note ? ` (${t.note})` : ''}`;
}

export function formatNumber(n: number | undefined, decimals: number): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function scenarioTable(scenario: string, rows: readonly Measurement[]): string {
  const cols = columns[scenario] ?? columns.echo ?? [];
  const head = ['system', 'workload', 'clients', ...cols.map((c) => c[1]), 'rounds'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const m of rows) {
    const cells = m.skipped !== undefined
      ? cols.map((_, i) => (i === 0 ? `skipped: ${m.skipped}` : ''))
      : cols.map(([key, , d]) => formatNumber(m.median[key], d));
    lines.push(`| ${[m.system, m.workload, String(m.clients), ...cells, String(m.rounds.length)].join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface ResultsDoc {
  readonly startedAt: string;
  readonly durationS: number;
  readonly command: string;
  readonly options: object;
  readonly machine: MachineFacts;
  readonly versions: Record<string, string>;
  readonly notes: string[];
  readonly targets: Target[];
  readonly measurements: Measurement[];
  /** With `--profile`: where the nodes' sampled CPU went in each Concord row's measured windows. */
  readonly profiles?: ProfiledRow[];
}

/** The Markdown report: targets first (what the issue asks), then every scenario's rows. */
export function formatResults(doc: ResultsDoc): string {
  const m = doc.machine;
  const out = [
    `# Concord benchmark ${doc.startedAt}`,
    '',
    `\`${doc.command}\` — ${doc.durationS.toFixed(0)} s; commit ${m.commit.slice(0, 12)}${m.dirty ? ' (+ uncommitted changes)' : ''}; ` +
      `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, load average ${m.loadAverage.join(' ')} at start, ${m.os}; Node ${m.node}; ` +
      Object.entries(doc.versions).map(([k, v]) => `${k} ${v}`).join(', '),
    '',
    'Medians over rounds; each comparison alternates the systems round by round in this one run. ' +
      'Throughput is per second of the measured window (after warm-up); latencies are per call.',
    '',
    '## Targets',
    '',
    '| target | measured | goal | grpc-js bound | status |',
    '|---|---|---|---|---|',
    ...doc.targets.filter((t) => t.reportOnly !== true).map((t) => `| ${t.target} | ${t.measured} | ${t.goal} | ${t.bound ?? '–'} | ${targetStatus(t)} |`),
    '',
    'grpc-js bound: the same ratio for a bare grpc-js unary echo with the same client (see echo), ' +
      'where it bounds what any server answering over grpc-js can reach on this machine. ' +
      'A goal beyond it cannot be met by work on the server.',
  ];
  const cpu = doc.targets.filter((t) => t.cpu !== undefined);
  if (cpu.length > 0) {
    out.push(
      '',
      'CPU per call behind the throughput targets: the server processes\' CPU time and the load generator\'s, per call, both on this machine. ' +
        'Were both systems to keep the machine busy, their throughputs would stand in the inverse ratio of these totals ("at equal CPU"); ' +
        'the rest of each line says what the goal then asks of Concord\'s nodes.',
      '',
      ...cpu.map((t) => `- ${t.target}: ${t.cpu as string}`),
    );
  }
  const reported = doc.targets.filter((t) => t.reportOnly === true);
  if (reported.length > 0) out.push('', ...reported.map((t) => `${t.target}: ${t.measured}${t.note ? ` (${t.note})` : ''}`));
  if (doc.profiles !== undefined) out.push('', ...profileSection(doc.profiles));
  const scenarios = [...new Set(doc.measurements.map((x) => x.scenario))];
  for (const s of scenarios) {
    out.push('', `## ${s}`, '', scenarioTable(s, doc.measurements.filter((x) => x.scenario === s)));
    const notes = [...new Set(doc.measurements.filter((x) => x.scenario === s && x.note !== undefined).map((x) => `${x.system}: ${x.note}`))];
    if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  }
  if (doc.notes.length > 0) out.push('', '## Notes', '', ...doc.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** The `--profile` section: per Concord row, the share of its nodes' samples per category. */
export function profileSection(rows: readonly ProfiledRow[]): string[] {
  const head = ['scenario', 'workload', 'clients', 'samples', 'late', ...profileCategories, 'own code, top'];
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  if (rows.length === 0) return ["## Where the nodes' CPU went (`--profile`)", '', 'No node profile had samples inside a measured window (none was written, or none could be placed in time).'];
  return [
    "## Where the nodes' CPU went (`--profile`)",
    '',
    'Share of the node processes\' main-thread samples (V8 profiler, every 0.5 ms) taken inside each profiled Concord row\'s measured windows ' +
      '(the rows the load generator or a heal measures; not the one-node scale rows), by where the innermost frame ran. ' +
      'Idle samples are left out, and so is a sample followed by a late one (the process or the profiler was preempted: how much CPU it stands for is unknown); "late" counts those. ' +
      'GC is V8\'s collector on the main thread; native is V8 and Node.js work outside JavaScript. ' +
      'The profiler slows the nodes: read this run\'s ratios as a profile\'s, not as the figures of record.',
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => {
      const b = r.breakdown;
      const own = b.ownTop.map((o) => `${o.fn} ${pct(o.share)}`).join('; ');
      return `| ${[r.scenario, r.workload, String(r.clients), formatNumber(b.samples, 0), formatNumber(b.late, 0), ...profileCategories.map((c) => pct(b.shares[c])), own === '' ? '–' : own].join(' | ')} |`;
    }),
  ];
}
