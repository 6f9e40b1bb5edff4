import { TestCluster } from './startTestCluster';

/** `concord partition n1 | n2 n3`: every node cuts the links that cross the line. */
export async function isolateNode(tc: TestCluster, idx: number): Promise<void> {
  const ids = tc.cluster.nodes.map((n) => n.id);
  await Promise.all(tc.stubs.map((s, i) => {
    const cut = i === idx ? ids.filter((_, j) => j !== idx) : [ids[idx] as string];
    return s.setLinkFaults(cut.map((peerId) => ({ peerId, cut: true, delayMs: 0 })), true);
  }));
}

/** Every node heals every link. */
export async function healAllLinks(tc: TestCluster): Promise<void> {
  await Promise.all(tc.stubs.map((s) => s.setLinkFaults([], true)));
}
