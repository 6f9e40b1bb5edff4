// Proves the cluster panel's link logic: how two nodes' Status views make one link state, and
// that every button changes both ends of a link while keeping the other half of each fault.
import type { PeerStatus, StatusResponse } from '../../proto/gen/concord/v1/admin';
import { linkViews, planCut, planDelay, planHealAll, planIsolate, type Statuses } from '../../clients/mobile/src/clusterLinks';

const ids = ['n1', 'n2', 'n3'];

function statuses(faults: Record<string, Partial<PeerStatus>> = {}, missing: string[] = []): Statuses {
  return new Map(ids.map((id) => [id, missing.includes(id) ? undefined : statusOf(id, faults)]));
}

function statusOf(id: string, faults: Record<string, Partial<PeerStatus>>): StatusResponse {
  const peers = ids.filter((p) => p !== id).map((p) => ({
    nodeId: p, address: '', connected: true, backlogUpdates: 0n, backlogBytes: 0n, lastHeardMsAgo: 0n, reachable: true, cut: false, delayMs: 0,
    ...faults[`${id}>${p}`],
  }));
  return { peers } as unknown as StatusResponse;
}

test('a link is cut if either end cuts it, delayed by the larger delay, down when an end is silent', () => {
  expect(linkViews(ids, statuses()).map((l) => l.state)).toEqual(['up', 'up', 'up']);
  const views = linkViews(ids, statuses({ 'n1>n2': { cut: true }, 'n3>n1': { delayMs: 300 }, 'n1>n3': { delayMs: 100 } }));
  expect(views).toEqual([
    { a: 'n1', b: 'n2', state: 'cut', delayMs: 0 },
    { a: 'n1', b: 'n3', state: 'delayed', delayMs: 300 },
    { a: 'n2', b: 'n3', state: 'up', delayMs: 0 },
  ]);
  expect(linkViews(ids, statuses({}, ['n3'])).map((l) => l.state)).toEqual(['up', 'down', 'down']);
  expect(linkViews(ids, statuses({ 'n2>n3': { reachable: false } })).map((l) => l.state)).toEqual(['up', 'up', 'down']);
});

test('buttons change both ends and keep the other half of each fault', () => {
  const current = statuses({ 'n1>n2': { delayMs: 200 }, 'n2>n1': { delayMs: 200 } });
  expect(planCut('n1', 'n2', true, current)).toEqual([
    { node: 'n1', faults: [{ peerId: 'n2', cut: true, delayMs: 200 }], replace: false },
    { node: 'n2', faults: [{ peerId: 'n1', cut: true, delayMs: 200 }], replace: false },
  ]);
  expect(planDelay('n2', 'n3', 400, statuses({ 'n3>n2': { cut: true } }))).toEqual([
    { node: 'n2', faults: [{ peerId: 'n3', cut: false, delayMs: 400 }], replace: false },
    { node: 'n3', faults: [{ peerId: 'n2', cut: true, delayMs: 400 }], replace: false },
  ]);
  expect(planIsolate('n3', ids, statuses()).map((c) => [c.node, c.faults.map((f) => `${f.peerId}:${f.cut}`)])).toEqual([
    ['n3', ['n1:true', 'n2:true']], ['n1', ['n3:true']], ['n2', ['n3:true']],
  ]);
  expect(planHealAll(ids)).toEqual(ids.map((node) => ({ node, faults: [], replace: true })));
});
