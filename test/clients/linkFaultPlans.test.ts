// Proves what `concord partition | heal | delay` ask of each node: every cut or delay is set on
// both ends of the link, each node in one call, merged with the faults already in force (a cut
// keeps a delay, a delay keeps a cut); heal clears everything or only what involves the named
// nodes; unknown nodes and peers are NOT_FOUND before any call is planned.
import { status } from '@grpc/grpc-js';
import { planCuts, planDelay, planHeal, type NodeLinks } from '../../clients/cli/linkFaultPlans';
import { linksToCut, parsePartitionExpression } from '../../clients/cli/partitionExpression';

type Fault = { cut: boolean; delayMs: number };
const ok: Fault = { cut: false, delayMs: 0 };

/** A full mesh of `ids`; `faults` overrides the links given as "from->to". */
function cluster(ids: string[], faults: Record<string, Fault> = {}): Map<string, NodeLinks> {
  return new Map(
    ids.map((id, i) => [
      id,
      { nodeId: id, address: `127.0.0.1:${7001 + i}`, peers: new Map(ids.filter((p) => p !== id).map((p) => [p, faults[`${id}->${p}`] ?? ok])) },
    ]),
  );
}

const cut = (peerId: string, delayMs = 0): { peerId: string; cut: boolean; delayMs: number } => ({ peerId, cut: true, delayMs });

test('n1 | n2 n3: n1 cuts both, n2 and n3 each cut n1, merged (replace=false)', () => {
  const plan = planCuts(linksToCut(parsePartitionExpression(['n1 | n2 n3'])), cluster(['n1', 'n2', 'n3']));
  expect(plan).toEqual([
    { nodeId: 'n1', address: '127.0.0.1:7001', faults: [cut('n2'), cut('n3')], replace: false },
    { nodeId: 'n2', address: '127.0.0.1:7002', faults: [cut('n1')], replace: false },
    { nodeId: 'n3', address: '127.0.0.1:7003', faults: [cut('n1')], replace: false },
  ]);
});

test('a cut keeps the delay in force; nodes not named are not called', () => {
  const nodes = cluster(['n1', 'n2', 'n3', 'n4'], { 'n1->n2': { cut: false, delayMs: 200 }, 'n2->n1': { cut: false, delayMs: 200 } });
  const plan = planCuts(linksToCut(parsePartitionExpression(['n1', '-/-', 'n2'])), nodes);
  expect(plan.map((c) => [c.nodeId, c.faults])).toEqual([
    ['n1', [cut('n2', 200)]],
    ['n2', [cut('n1', 200)]],
  ]);
});

test('delay sets both directions and keeps a cut; 0 clears the delay', () => {
  const nodes = cluster(['n1', 'n2', 'n3'], { 'n1->n2': { cut: true, delayMs: 0 } });
  expect(planDelay('n1', 'n2', 200, nodes).map((c) => [c.nodeId, c.faults, c.replace])).toEqual([
    ['n1', [{ peerId: 'n2', cut: true, delayMs: 200 }], false],
    ['n2', [{ peerId: 'n1', cut: false, delayMs: 200 }], false],
  ]);
  expect(planDelay('n2', 'n3', 0, nodes).flatMap((c) => c.faults)).toEqual([
    { peerId: 'n3', cut: false, delayMs: 0 },
    { peerId: 'n2', cut: false, delayMs: 0 },
  ]);
});

test('heal: everything on every node, or the named nodes and every link to them', () => {
  const nodes = cluster(['n1', 'n2', 'n3']);
  expect(planHeal([], nodes).map((c) => [c.nodeId, c.faults, c.replace])).toEqual([
    ['n1', [], true],
    ['n2', [], true],
    ['n3', [], true],
  ]);
  expect(planHeal(['n1'], nodes).map((c) => [c.nodeId, c.faults, c.replace])).toEqual([
    ['n1', [], true],
    ['n2', [{ peerId: 'n1', cut: false, delayMs: 0 }], false],
    ['n3', [{ peerId: 'n1', cut: false, delayMs: 0 }], false],
  ]);
  // Healing two nodes leaves the third's link between them alone: it has nothing to clear there.
  expect(planHeal(['n1', 'n2'], nodes).map((c) => [c.nodeId, c.faults.map((f) => f.peerId), c.replace])).toEqual([
    ['n1', [], true],
    ['n2', [], true],
    ['n3', ['n1', 'n2'], false],
  ]);
});

test('unknown nodes and peers are NOT_FOUND', () => {
  const nodes = cluster(['n1', 'n2']);
  expect(() => planCuts([['n1', 'n9']], nodes)).toThrow(expect.objectContaining({ code: status.NOT_FOUND }));
  expect(() => planHeal(['n9'], nodes)).toThrow(/no node n9/);
  const lonely = new Map([['n1', { nodeId: 'n1', address: 'a', peers: new Map<string, Fault>() }], ['n2', { nodeId: 'n2', address: 'b', peers: new Map<string, Fault>() }]]);
  expect(() => planDelay('n1', 'n2', 100, lonely)).toThrow(/n1 has no peer n2/);
});
