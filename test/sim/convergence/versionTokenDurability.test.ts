// Found by the convergence simulation: the version token returned with an acknowledged write
// must name only changes that survive a crash. DocumentNode used to make the token from the
// in-memory document when it answered, so it also named changes whose fsync had not finished
// (writes applied while this one's fsync ran, or, for a write that changes nothing and so waits
// for no fsync, anything in flight). If the node then crashed before those were flushed, no node
// ever reached the token and every read that carried it waited until its deadline.
import { DocumentId } from '../../../services/core/crdt/documentId';
import { TypedOperation } from '../../../services/core/crdt/typedOperation';
import { decodeVersion, versionCovered } from '../../../services/core/crdt/versionToken';
import { AntiEntropy } from '../../../services/node/AntiEntropy';
import { DocumentNode, WriteResult } from '../../../services/node/DocumentNode';
import { DocumentStore } from '../../../services/node/DocumentStore';
import { TrafficStats } from '../../../services/node/TrafficStats';
import { settle } from './EventQueue';
import { localAcksOnly } from './localAcksOnly';
import { sha256 } from './SimReplica';
import { SteppedDisk } from './SteppedDisk';

const docId = 'notes' as DocumentId;
const insert = (index: number, text: string): TypedOperation[] => [{ kind: 'text-insert', path: ['t'], index, text }];

function singleMaster(disk: SteppedDisk): DocumentNode {
  const store = new DocumentStore({ engine: disk, clientId: 1, hash: sha256 });
  const traffic = new TrafficStats();
  return new DocumentNode('n1', 'master', store, localAcksOnly, new AntiEntropy('n1', store, sha256, traffic), traffic);
}

/** Restarts from what is durable and checks every token the node answered with. */
function expectTokensReachable(disk: SteppedDisk, answered: readonly WriteResult[]): void {
  const restarted = new DocumentStore({ engine: disk.durable.snapshot(), clientId: 2, hash: sha256 });
  restarted.load();
  const doc = restarted.peek(docId);
  for (const { version } of answered) expect(doc !== undefined && versionCovered(doc, decodeVersion(version))).toBe(true);
}

test('the token of a write names no change applied while its fsync ran', async () => {
  const disk = new SteppedDisk();
  const node = singleMaster(disk);
  const answered: WriteResult[] = [];
  node.applyOps(docId, insert(0, 'a'), 'local', 1000).then((r) => void answered.push(r), () => undefined);
  // A second write arrives while the first one's fsync runs; it goes to the next batch.
  void node.applyOps(docId, insert(1, 'b'), 'local', 1000);
  await disk.flushOldest();
  await settle();
  // The node crashes before the second batch is flushed.
  expect(answered).toHaveLength(1);
  expectTokensReachable(disk, answered);
});

test('the token of a write that changes nothing names no change still in flight', async () => {
  const disk = new SteppedDisk();
  const node = singleMaster(disk);
  void node.applyOps(docId, insert(0, 'a'), 'local', 1000);
  const answered: WriteResult[] = [];
  // Deleting a key that does not exist changes nothing, so this write waits for no fsync.
  node.applyOps(docId, [{ kind: 'map-delete', path: ['m', 'k'] }], 'local', 1000).then((r) => void answered.push(r), () => undefined);
  await settle();
  // The node crashes before the first write is flushed; a token it answered with must hold.
  expectTokensReachable(disk, answered);
});
