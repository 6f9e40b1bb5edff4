import { startConcordBench } from '../concord/ConcordBenchCluster';
import { healRound } from '../scenarios/healRound';
import { YjsTwin } from '../scenarios/YjsTwin';
async function main(): Promise<void> {
  const c = await startConcordBench({ nodes: 3, log: (l) => console.log(l), ...(process.env.PROF ? { cpuProfileDir: process.env.PROF } : {}) });
  try {
    const sizes = (process.env.SIZES ?? '1000,1000,1000,1000,10000,10000').split(',').map(Number);
    let r = 0;
    for (const updates of sizes) {
      const d = { docs: Math.min(1000, Math.max(10, Math.floor(updates / 10))), updates, valueOf: (side: string, n: number) => `${side}-${n.toString(36).padStart(12, '0')}` };
      const twin = new YjsTwin(d);
      const healStart = Date.now();
      const t0 = await Promise.all(c.docs.map((s) => s.status()));
      const res = await healRound(c, `probe/r${r++}`, d, twin, (l) => console.log(l));
      const ledgers = await Promise.all(c.docs.map((s) => s.ledger()));
      const eps = ledgers.map((l, i) => l.episodes.filter((e) => Number(e.startedAtMs) >= healStart - 100000).slice(0, 2).map((e) => `n${i + 1}<-${e.peerId} healed+${Number(e.healedAtMs) - 0} conv ${Number(e.convergedAtMs) - Number(e.healedAtMs)}ms docs ${e.documentsExchanged}`));
      const t1 = await Promise.all(c.docs.map((s) => s.status()));
      const rounds = t1.map((s, i) => `${Number(s.traffic!.antiEntropyRounds - t0[i]!.traffic!.antiEntropyRounds)}/${Number(s.traffic!.antiEntropyDirectedRounds - t0[i]!.traffic!.antiEntropyDirectedRounds)}`).join(' ');
      const m = twin.merge();
      console.log(`${updates}: rounds/directed ${rounds} time ${res.timeMs} drain ${res.drainMs} bytes ${res.bytesRatio.toFixed(2)} yjs ${m.timeMs.toFixed(0)} | ${eps.flat().join(' ; ')}`);
    }
  } finally {
    await c.stop();
  }
}
void main();
