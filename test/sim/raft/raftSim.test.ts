// Runs the Raft simulator over many seeds: each seed is a whole run with faults (loss,
// duplication, reordering, partitions, crashes losing unpersisted state, restarts, clock jumps,
// slow writes, compaction) during which the checkers must never fire, then a healed liveness
// phase in which proposals must commit everywhere within a bound. A second test proves the
// checkers can fire: a shell that sends messages before persisting must be caught.
//
//   SIM_SEED=123 npx jest test/sim/raft        replay one seed (prints its trace on failure)
//   SIM_SEEDS=2000 npx jest test/sim/raft      run more seeds (default 300, from SIM_SEED_START=1)
//   SIM_VERBOSE=1, SIM_TRACE_LINES=2000         print run statistics / keep a longer trace

import { RaftSim, type SimResult } from './RaftSim';

const single = process.env.SIM_SEED !== undefined ? Number(process.env.SIM_SEED) : null;
const count = Number(process.env.SIM_SEEDS ?? 300);
const startSeed = Number(process.env.SIM_SEED_START ?? 1);
const seeds = single !== null ? [single] : Array.from({ length: count }, (_, i) => startSeed + i);

function report(r: Extract<SimResult, { ok: false }>): string {
  return [
    `seed ${r.seed} failed: ${r.error}`,
    `replay: SIM_SEED=${r.seed} npx jest test/sim/raft`,
    '--- last trace lines ---',
    ...r.trace,
  ].join('\n');
}

describe('raft simulator', () => {
  it(`keeps safety under faults and recovers liveness after healing (${seeds.length} seeds)`, () => {
    const started = Date.now();
    const failures: Extract<SimResult, { ok: false }>[] = [];
    let ticks = 0;
    let commits = 0;
    let snapshots = 0;
    let crashes = 0;
    let maxLiveness = 0;
    for (const seed of seeds) {
      const r = new RaftSim({ seed, traceLines: Number(process.env.SIM_TRACE_LINES ?? (single !== null ? 400 : 80)) }).run();
      if (!r.ok) {
        failures.push(r);
        if (failures.length >= 3) break;
        continue;
      }
      ticks += r.stats.ticks;
      commits += r.stats.committed;
      snapshots += r.stats.snapshotsSent;
      crashes += r.stats.crashes;
      maxLiveness = Math.max(maxLiveness, r.stats.livenessTicks);
    }
    if (failures.length > 0) throw new Error(failures.map(report).join('\n\n'));
    if (process.env.SIM_VERBOSE === '1' || single !== null) {
      console.log(
        `${seeds.length} seeds in ${Date.now() - started} ms: ${ticks} ticks, ${commits} committed, ` +
          `${snapshots} snapshots sent, ${crashes} crashes, slowest recovery ${maxLiveness} ticks`,
      );
    }
  });

  it('catches a shell that sends before it persists (the checkers can fail)', () => {
    // Most seeds trip the core's own invariant assertions first (a follower acknowledged
    // entries it then lost in a crash); this looks for one where a checker fires.
    const maxSeeds = 100;
    let caught: Extract<SimResult, { ok: false }> | null = null;
    for (let seed = 1; seed <= maxSeeds && caught === null; seed++) {
      // With immediate commit notices: of the first 400 seeds, 4 reach a checker (the first is
      // 18); with deferred ones 3 do (the first is 119). Either way the checker does fail.
      const r = new RaftSim({ seed, bug: 'send-before-persist', deferCommitNotice: false }).run();
      if (!r.ok && r.error.startsWith('safety violation')) caught = r;
    }
    expect(caught?.error).toMatch(/^safety violation: commit durability/);
  });
});
