// The partition ledger: episodes open on an injected cut or when the detector loses a peer it
// had reached, count what this node accepted meanwhile, close at the heal, converge at the first
// anti-entropy round after it, and survive a restart.
import { PartitionLedger } from '../../services/node/PartitionLedger';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

function ledgerAt(engine = new MemoryEngine()): { ledger: PartitionLedger; clock: { t: number }; engine: MemoryEngine } {
  const clock = { t: 1000 };
  return { ledger: new PartitionLedger(engine, () => clock.t, () => undefined), clock, engine };
}

test('an injected cut opens an episode that counts writes, heals, and converges at the next round', () => {
  const { ledger, clock } = ledgerAt();
  ledger.observe('n2', true, false);
  clock.t = 2000;
  ledger.observe('n2', false, true);
  ledger.onLocalUpdate('doc/a');
  ledger.onLocalUpdate('doc/b');
  clock.t = 3000;
  ledger.observe('n2', true, false);
  ledger.onRemoteUpdate('n2', 'doc/c');
  clock.t = 3500;
  ledger.onRoundDone('n2', 3100, 3, 900);
  const [ep] = ledger.recent(10);
  expect(ep).toMatchObject({ peerId: 'n2', cause: 'injected', startedAtMs: 2000, healedAtMs: 3000, convergedAtMs: 3500, localUpdates: 2, remoteUpdates: 1, documentsExchanged: 3, bytesExchanged: 900 });
  expect([...(ep?.documents ?? [])].sort()).toEqual(['doc/a', 'doc/b', 'doc/c']);
});

test('a short detected episode right after a heal does not leave the injected one unconverged', () => {
  const { ledger, clock } = ledgerAt();
  ledger.observe('n2', true, false);
  clock.t = 2000;
  ledger.observe('n2', false, true); // injected cut
  clock.t = 3000;
  ledger.observe('n2', true, false); // healed
  clock.t = 3100;
  ledger.observe('n2', false, false); // the detector blinks before the first round completes
  clock.t = 3200;
  ledger.observe('n2', true, false);
  clock.t = 3400;
  ledger.onRoundDone('n2', 3300, 5, 1200);
  const episodes = ledger.recent(10);
  expect(episodes.map((e) => [e.cause, e.convergedAtMs])).toEqual([['detected', 3400], ['injected', 3400]]);
});

test('a round that started before an earlier episode healed does not converge it', () => {
  const { ledger, clock } = ledgerAt();
  ledger.observe('n3', true, false);
  clock.t = 2000;
  ledger.observe('n3', false, true);
  clock.t = 3000;
  ledger.observe('n3', true, false);
  clock.t = 3050;
  ledger.observe('n3', false, false);
  clock.t = 3100;
  ledger.observe('n3', true, false);
  clock.t = 3200;
  ledger.onRoundDone('n3', 2900, 1, 10); // began before the first heal
  expect(ledger.recent(10).map((e) => e.convergedAtMs)).toEqual([3200, 0]);
});

test('episodes survive a restart; one open at the stop ends at the restart', async () => {
  const engine = new MemoryEngine();
  const first = ledgerAt(engine);
  first.ledger.observe('n2', false, true);
  first.ledger.onLocalUpdate('doc/x');
  first.clock.t = 2000;
  first.ledger.observe('n2', true, false); // healed: the counts are written with the heal
  first.clock.t = 3000;
  first.ledger.observe('n3', false, true); // still open at the stop
  await new Promise((r) => setImmediate(r));
  const second = ledgerAt(engine);
  second.clock.t = 9000;
  second.ledger.load();
  expect(second.ledger.recent(10)).toEqual([
    expect.objectContaining({ peerId: 'n3', cause: 'injected', startedAtMs: 3000, healedAtMs: 9000 }),
    expect.objectContaining({ peerId: 'n2', cause: 'injected', startedAtMs: 1000, healedAtMs: 2000, localUpdates: 1 }),
  ]);
});
