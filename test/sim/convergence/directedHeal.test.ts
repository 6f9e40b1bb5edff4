// Proves that directed heals are safe: after a split (lossy links, crashes, periodic digest
// rounds racing), the reconnect rounds alone, directed wherever both ends' owed lists are
// complete, leave every replica with the same documents, with no digest round to repair what
// they missed. The real DocumentStore, AntiEntropy and OwedDocuments over the simulated network
// and disks. Replay a seed: SIM_SEED=<seed> npx jest test/sim/convergence/directedHeal
import { runSimulation, SimResult } from './runSimulation';
import { seedPlan } from './simSeeds';

const plan = seedPlan(process.env, 80);
const seedsPerTest = 40;

function findings(r: SimResult): string[] {
  return [
    ...r.liveness.map((f) => `liveness: ${f}`),
    ...r.unexpected.map((f) => `refused or failed: ${f}`),
    ...r.directedHeal.map((f) => `after the reconnect rounds: ${f}`),
    ...r.convergence.map((f) => `divergence: ${f}`),
    ...r.lostAcks.map((f) => `lost ack: ${f}`),
  ];
}

const batches: number[][] = [];
for (let i = 0; i < plan.seeds.length; i += seedsPerTest) batches.push(plan.seeds.slice(i, i + seedsPerTest));
let directedRounds = 0;

describe('directed heal simulation', () => {
  test.each(batches.map((b) => [`${b[0]}..${b[b.length - 1]}`, b] as const))('seeds %s', async (_range, seeds) => {
    const failed: string[] = [];
    for (const seed of seeds) {
      const log = plan.replay ? (line: string): void => void process.stdout.write(`${line}\n`) : undefined;
      const r = await runSimulation({ seed, antiEntropy: true, acksBeforeDurable: false, directedHeal: true, log });
      directedRounds += r.directedRounds;
      const f = findings(r);
      if (f.length > 0) failed.push(`  ${r.summary}\n${f.slice(0, 6).map((l) => `    ${l}`).join('\n')}\n    replay: SIM_SEED=${seed} npx jest test/sim/convergence/directedHeal`);
    }
    if (failed.length > 0) throw new Error(`${failed.length} of ${seeds.length} seeds failed:\n${failed.join('\n')}`);
  });

  test('the runs exercised directed rounds', () => {
    // Most links know their lists after the first convergence; a crash makes a few digest rounds.
    if (!plan.replay) expect(directedRounds).toBeGreaterThan(plan.seeds.length);
  });
});
