import { evaluateTargets } from './evaluateTargets';
import { formatResults, ResultsDoc } from './formatResults';
import { Measurement } from './Measurement';
import { Target } from './Target';

// The targets table from made-up medians: each ratio, and the grpc-js bound where the echo rows
// bound a target (so a goal beyond what the transport allows is reported as such).

const row = (scenario: string, system: string, workload: string, clients: number, median: Record<string, number>): Measurement =>
  ({ scenario, system, workload, clients, rounds: [median], median });

const echoRows = [
  row('echo', 'grpc-js echo', 'unary 256 B, 1 server process', 64, { opsPerSec: 5_000, p50Ms: 10 }),
  row('echo', 'grpc-js echo', 'unary 256 B, 3 server processes', 64, { opsPerSec: 6_000, p50Ms: 9 }),
  row('echo', 'grpc-js echo', 'unary 256 B, 1 server process', 1, { opsPerSec: 2_000, p50Ms: 0.5 }),
];
const systemRows = [
  row('authoritative', 'concord', 'put', 64, { opsPerSec: 3_000, p50Ms: 20 }),
  row('authoritative', 'etcd', 'put', 64, { opsPerSec: 4_000, p50Ms: 15 }),
  row('authoritative', 'concord', 'put', 1, { opsPerSec: 400, p50Ms: 2 }),
  row('authoritative', 'etcd', 'put', 1, { opsPerSec: 900, p50Ms: 1 }),
  row('convergent', 'concord', 'apply LOCAL', 64, { opsPerSec: 2_500, p50Ms: 20, p99Ms: 60 }),
  row('convergent', 'concord', 'apply ALL', 64, { opsPerSec: 2_400, p50Ms: 22, p99Ms: 50 }),
];

const byTarget = (targets: readonly Target[], prefix: string): Target => {
  const t = targets.find((x) => x.target.startsWith(prefix));
  if (t === undefined) throw new Error(`no target starting with ${prefix}`);
  return t;
};

/** The results Markdown of a run made of `measurements`, with its targets. */
function markdownOf(measurements: Measurement[]): string {
  const doc: ResultsDoc = {
    startedAt: '2026-01-01T00:00:00.000Z', durationS: 1, command: 'npm run bench', options: {},
    machine: { host: 'test', os: 'Linux', cpus: 2, cpuModel: 'test', memoryGiB: 1, loadAverage: [0, 0, 0], node: 'v20', commit: 'abc', dirty: false, packages: {} },
    versions: {}, notes: [], targets: evaluateTargets(measurements), measurements,
  };
  return formatResults(doc);
}

describe('evaluateTargets', () => {
  it('computes each ratio and the grpc-js echo bound of the targets the transport limits', () => {
    const targets = evaluateTargets([...echoRows, ...systemRows]);
    expect(byTarget(targets, 'authoritative put, 64 clients')).toMatchObject({ measured: '0.75x', met: false, bound: '<= 1.25x', beyondBound: true });
    expect(byTarget(targets, 'authoritative put, sequential')).toMatchObject({ measured: '2.00x', met: false, bound: '>= 0.50x', beyondBound: false });
    expect(byTarget(targets, 'convergent LOCAL, 64 clients / etcd')).toMatchObject({ measured: '0.63x', met: false, bound: '<= 1.50x', beyondBound: true });
    expect(byTarget(targets, 'convergent LOCAL / grpc-js echo')).toMatchObject({ measured: '0.42x', met: false });
    expect(byTarget(targets, 'convergent LOCAL / grpc-js echo').bound).toBeUndefined();
    expect(byTarget(targets, 'convergent ALL p99')).toMatchObject({ measured: '0.83x', met: true });
  });

  it('reads LOCAL throughput from the row without lag observers when it ran, and p99 from the observed one', () => {
    const unobserved = row('convergent', 'concord', 'apply LOCAL, lag not observed', 64, { opsPerSec: 3_000, p50Ms: 15, p99Ms: 500 });
    const targets = evaluateTargets([...echoRows, ...systemRows, unobserved]);
    expect(byTarget(targets, 'convergent LOCAL, 64 clients / etcd')).toMatchObject({ measured: '0.75x' });
    expect(byTarget(targets, 'convergent LOCAL / grpc-js echo')).toMatchObject({ measured: '0.50x' });
    expect(byTarget(targets, 'convergent ALL p99')).toMatchObject({ measured: '0.83x' });
  });

  it('judges LOCAL against the echo row alternated with it when the convergent scenario ran one', () => {
    const alternated = row('convergent', 'grpc-js echo', 'unary 256 B, 3 server processes', 64, { opsPerSec: 3_125 });
    const targets = evaluateTargets([...echoRows, ...systemRows, alternated]);
    expect(byTarget(targets, 'convergent LOCAL / grpc-js echo')).toMatchObject({ measured: '0.80x', met: true });
    // The etcd comparisons keep the echo scenario's rows for their bounds.
    expect(byTarget(targets, 'convergent LOCAL, 64 clients / etcd')).toMatchObject({ bound: '<= 1.50x' });
  });

  it('judges the streamed and the batched write path against Redis apart', () => {
    const targets = evaluateTargets([
      ...systemRows,
      row('convergent-50', 'concord', 'apply LOCAL, 16 ops/call (ops/s)', 50, { opsPerSec: 16_000 }),
      row('convergent-50', 'concord', 'apply LOCAL, streamed (client writer)', 50, { opsPerSec: 6_000 }),
      row('convergent-50', 'redis', 'SET (async replication)', 50, { opsPerSec: 30_000 }),
    ]);
    expect(byTarget(targets, 'Concord streamed LOCAL writes')).toMatchObject({ measured: '0.20x', met: false });
    expect(byTarget(targets, 'Concord batched LOCAL writes')).toMatchObject({ measured: '0.53x', met: true });
  });

  it('gives no bound without the echo rows, and no scale note when the scale scenario did not run', () => {
    const targets = evaluateTargets(systemRows);
    expect(byTarget(targets, 'authoritative put, 64 clients').bound).toBeUndefined();
    expect(byTarget(targets, 'authoritative put, 64 clients').beyondBound).toBeUndefined();
    expect(byTarget(targets, '1M small documents on one node: RSS')).toMatchObject({ measured: '–', met: undefined });
    expect(byTarget(targets, '1M small documents on one node: RSS').note).toBeUndefined();
  });

  it('says what CPU per call each throughput goal asks of the nodes, when both rows measured it', () => {
    const cpu = (server: number, loadgen: number): Record<string, number> => ({ serverCpuMsPerCall: server, loadgenCpuMsPerCall: loadgen });
    const targets = evaluateTargets([
      row('authoritative', 'concord', 'put', 64, { opsPerSec: 3_000, ...cpu(0.25, 0.15) }),
      row('authoritative', 'etcd', 'put', 64, { opsPerSec: 3_000, ...cpu(0.35, 0.25) }),
      row('convergent', 'concord', 'apply LOCAL, lag not observed', 64, { opsPerSec: 3_000, ...cpu(0.3, 0.2) }),
      row('convergent', 'grpc-js echo', 'unary 256 B, 3 server processes', 64, { opsPerSec: 6_000, ...cpu(0.1, 0.1) }),
      row('convergent-50', 'concord', 'apply LOCAL, streamed (client writer)', 50, { opsPerSec: 6_000, ...cpu(0.2, 0.05) }),
      row('convergent-50', 'redis', 'SET (async replication)', 50, { opsPerSec: 30_000 }),
    ]);
    // 0.6 ms per etcd put against 0.4: 1.5x at equal CPU; 1.5x allows 0.4 in all, 0.25 of it the nodes'.
    expect(byTarget(targets, 'authoritative put, 64 clients').cpu).toBe(
      'CPU per call, nodes + load generator: Concord 0.400 ms (0.250 + 0.150), etcd 0.600 ms (0.350 + 0.250); at equal CPU 1.50x; 1.50x needs Concord\'s nodes at <= 0.250 ms per call (0.250 now)',
    );
    // 3x of etcd's 0.6 ms allows 0.2 in all: the load generator's 0.2 leaves the nodes nothing.
    expect(byTarget(targets, 'convergent LOCAL, 64 clients / etcd').cpu).toContain('3.00x is out of reach at equal CPU: the load generator alone spends 0.200 ms per Concord call, at or past the 0.200 ms the goal allows in all');
    // The echo's 0.2 ms against 0.5: 0.40x; 0.7x allows 0.286, 0.086 of it the nodes'.
    expect(byTarget(targets, 'convergent LOCAL / grpc-js echo').cpu).toContain('at equal CPU 0.40x; 0.70x needs Concord\'s nodes at <= 0.086 ms per call (0.300 now)');
    // Redis's row has no CPU here: no line rather than a made-up one.
    expect(byTarget(targets, 'Concord streamed LOCAL writes').cpu).toBeUndefined();
    expect(byTarget(targets, 'convergent ALL p99').cpu).toBeUndefined();
  });

  it('gives no CPU line for a row whose CPU was not measured (NaN in a run, null read back from JSON)', () => {
    for (const missing of [Number.NaN, null as unknown as number]) {
      const targets = evaluateTargets([
        row('authoritative', 'concord', 'put', 64, { opsPerSec: 3_000, serverCpuMsPerCall: missing, loadgenCpuMsPerCall: 0.2 }),
        row('authoritative', 'etcd', 'put', 64, { opsPerSec: 3_000, serverCpuMsPerCall: 0.3, loadgenCpuMsPerCall: 0.3 }),
      ]);
      expect(byTarget(targets, 'authoritative put, 64 clients').cpu).toBeUndefined();
    }
  });

  it('says a goal is out of reach once the printed CPU leaves the nodes nothing, never "at <= 0.000 ms"', () => {
    // The echo's 0.01 + 0.13 ms over 0.7 is 0.2 ms (a hair above in floating point): the load generator's 0.2 takes it all.
    const targets = evaluateTargets([
      row('convergent', 'concord', 'apply LOCAL, lag not observed', 64, { opsPerSec: 3_000, serverCpuMsPerCall: 0.3, loadgenCpuMsPerCall: 0.2 }),
      row('convergent', 'grpc-js echo', 'unary 256 B, 3 server processes', 64, { opsPerSec: 6_000, serverCpuMsPerCall: 0.01, loadgenCpuMsPerCall: 0.13 }),
    ]);
    expect(byTarget(targets, 'convergent LOCAL / grpc-js echo').cpu).toContain('0.70x is out of reach at equal CPU: the load generator alone spends 0.200 ms per Concord call, at or past the 0.200 ms');
  });

  it('says in the Markdown table when a goal lies beyond the bound', () => {
    const measurements = [...echoRows, ...systemRows];
    const md = markdownOf(measurements);
    expect(md).toContain('| target | measured | goal | grpc-js bound | status |');
    expect(md).toMatch(/\| authoritative put, 64 clients: Concord \/ etcd throughput \| 0\.75x \| >= 1\.5x \| <= 1\.25x \| \*\*missed\*\*, beyond the grpc-js bound \(/);
    expect(md).toMatch(/\| authoritative put, sequential: Concord \/ etcd p50 latency \| 2\.00x \| <= 1x \| >= 0\.50x \| \*\*missed\*\* \(/);
    // No row here measured CPU: no CPU lines.
    expect(md).not.toContain('CPU per call behind the throughput targets');
  });

  it('lists the CPU lines under the targets table', () => {
    const measurements = [
      row('authoritative', 'concord', 'put', 64, { opsPerSec: 3_000, serverCpuMsPerCall: 0.2, loadgenCpuMsPerCall: 0.2 }),
      row('authoritative', 'etcd', 'put', 64, { opsPerSec: 3_000, serverCpuMsPerCall: 0.3, loadgenCpuMsPerCall: 0.3 }),
    ];
    const md = markdownOf(measurements);
    expect(md).toContain('CPU per call behind the throughput targets');
    expect(md).toContain('- authoritative put, 64 clients: Concord / etcd throughput: CPU per call, nodes + load generator: Concord 0.400 ms');
  });
});
