import { columns, formatNumber, ResultsDoc, targetStatus } from './formatResults';
import { Measurement } from './Measurement';
import { Target } from './Target';

/** Options that change what a number means: runs that differ in one are compared with a warning. */
const comparableOptions = ['quick', 'rounds', 'roundMs', 'warmupMs', 'clients', 'valueBytes'] as const;

const rowKey = (m: Measurement): string => `${m.scenario}\u0000${m.system}\u0000${m.workload}\u0000${m.clients}`;

/** Finite values of one metric over a row's rounds. */
function roundValues(m: Measurement, key: string): number[] {
  return m.rounds.map((r) => r[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/**
 * Whether two runs' rounds of a metric lie apart: every round of one is above every round of
 * the other, with at least two rounds on each side. One round each proves nothing on a shared
 * machine, so a change is only marked when the spread of both runs leaves no overlap.
 */
export function roundsApart(before: readonly number[], after: readonly number[]): boolean {
  if (before.length < 2 || after.length < 2) return false;
  return Math.max(...after) < Math.min(...before) || Math.min(...after) > Math.max(...before);
}

function cell(before: Measurement, after: Measurement, key: string, decimals: number): string {
  const b = before.median[key];
  const a = after.median[key];
  if (b === undefined && a === undefined) return '–';
  const ratio = b !== undefined && a !== undefined && b !== 0 && Number.isFinite(a / b) ? ` (${formatNumber(a / b, 2)}x)` : '';
  const apart = roundsApart(roundValues(before, key), roundValues(after, key)) ? ' *' : '';
  return `${formatNumber(b, decimals)} → ${formatNumber(a, decimals)}${ratio}${apart}`;
}

function warnings(before: ResultsDoc, after: ResultsDoc): string[] {
  const out: string[] = [];
  const mb = before.machine;
  const ma = after.machine;
  const facts: [string, unknown, unknown][] = [
    ['CPUs', mb.cpus, ma.cpus], ['CPU model', mb.cpuModel, ma.cpuModel], ['memory GiB', mb.memoryGiB, ma.memoryGiB],
    ['OS', mb.os, ma.os], ['Node', mb.node, ma.node],
  ];
  for (const pkg of new Set([...Object.keys(mb.packages), ...Object.keys(ma.packages)])) facts.push([pkg, mb.packages[pkg], ma.packages[pkg]]);
  for (const [what, b, a] of facts) if (JSON.stringify(b) !== JSON.stringify(a)) out.push(`${what} differs: ${String(b ?? 'none')} before, ${String(a ?? 'none')} after`);
  const ob = before.options as Record<string, unknown>;
  const oa = after.options as Record<string, unknown>;
  for (const k of comparableOptions) {
    if (JSON.stringify(ob[k]) !== JSON.stringify(oa[k])) out.push(`option ${k} differs: ${JSON.stringify(ob[k])} before, ${JSON.stringify(oa[k])} after`);
  }
  return out;
}

function runLine(label: string, doc: ResultsDoc): string {
  const m = doc.machine;
  return `- ${label}: commit ${m.commit.slice(0, 12)}${m.dirty ? ' (+ uncommitted changes)' : ''}, ${doc.startedAt}, \`${doc.command}\`, load average ${m.loadAverage.join(' ')} at start`;
}

function targetsTable(before: readonly Target[], after: readonly Target[]): string[] {
  // A target neither run measured says nothing about the change.
  const names = [...new Set([...before, ...after].filter((t) => t.reportOnly !== true && t.met !== undefined).map((t) => t.target))];
  if (names.length === 0) return [];
  const lines = ['| target | goal | before | after | status before → after |', '|---|---|---|---|---|'];
  for (const name of names) {
    const b = before.find((t) => t.target === name);
    const a = after.find((t) => t.target === name);
    const status = (t: Target | undefined): string => (t === undefined ? 'absent' : targetStatus(t).replace(/ \(.*\)$/, ''));
    lines.push(`| ${name} | ${(a ?? b)?.goal ?? '–'} | ${b?.measured ?? 'absent'} | ${a?.measured ?? 'absent'} | ${status(b)} → ${status(a)} |`);
  }
  return lines;
}

/**
 * Two runs of `npm run bench` side by side: the targets, then every row both runs measured, each
 * metric as before → after with its ratio (medians over rounds). A `*` marks a metric whose
 * rounds in the two runs do not overlap at all: a change beyond the run-to-run spread. Machine
 * facts and options that differ are listed first, since they change what the numbers mean.
 */
export function compareResults(before: ResultsDoc, after: ResultsDoc): string {
  const out = ['# Concord benchmark comparison', '', runLine('before', before), runLine('after', after)];
  const warn = warnings(before, after);
  if (warn.length > 0) out.push('', '**Not like for like:**', '', ...warn.map((w) => `- ${w}`));
  const targets = targetsTable(before.targets, after.targets);
  if (targets.length > 0) out.push('', '## Targets', '', ...targets);
  out.push('', 'Each cell: median before → after (after / before). `*`: every round of one run lies beyond every round of the other (two or more rounds each).');
  const afterRows = new Map(after.measurements.map((m) => [rowKey(m), m]));
  const beforeKeys = new Set(before.measurements.map(rowKey));
  const scenarios = [...new Set([...before.measurements, ...after.measurements].map((m) => m.scenario))];
  for (const s of scenarios) {
    const cols = columns[s] ?? columns.echo ?? [];
    const head = ['system', 'workload', 'clients', ...cols.map((c) => c[1])];
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    const only: string[] = [];
    for (const b of before.measurements.filter((m) => m.scenario === s)) {
      const a = afterRows.get(rowKey(b));
      if (a === undefined) {
        only.push(`- only before: ${b.system}, ${b.workload}, ${b.clients} clients`);
        continue;
      }
      const skipped = b.skipped ?? a.skipped;
      const cells = skipped !== undefined
        ? cols.map((_, i) => (i === 0 ? `skipped ${b.skipped !== undefined ? 'before' : 'after'}: ${skipped}` : ''))
        : cols.map(([key, , d]) => cell(b, a, key, d));
      lines.push(`| ${[b.system, b.workload, String(b.clients), ...cells].join(' | ')} |`);
    }
    for (const a of after.measurements.filter((m) => m.scenario === s && !beforeKeys.has(rowKey(m)))) {
      only.push(`- only after: ${a.system}, ${a.workload}, ${a.clients} clients`);
    }
    out.push('', `## ${s}`, '');
    if (lines.length > 2) out.push(...lines);
    if (only.length > 0) out.push(...(lines.length > 2 ? [''] : []), ...only);
  }
  return `${out.join('\n')}\n`;
}
