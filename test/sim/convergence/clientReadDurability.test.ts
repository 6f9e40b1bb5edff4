// Found by the convergence simulation: a write a client bases on what a read returned must not
// be lost when the node that served the read crashes. Get used to serve the in-memory document,
// which holds changes whose fsync has not finished; a Yjs client's edit refers to the items it
// saw (a map set names the value it replaces, a text insert its neighbours), so when the crash
// lost such a change every node kept the client's acknowledged write pending forever, waiting
// for an item that no longer existed anywhere.
import * as Y from 'yjs';
import { GetResponse } from '../../../proto/gen/concord/v1/documents';
import { DocumentId } from '../../../services/core/crdt/documentId';
import { AntiEntropy } from '../../../services/node/AntiEntropy';
import { DocumentNode } from '../../../services/node/DocumentNode';
import { DocumentStore } from '../../../services/node/DocumentStore';
import { TrafficStats } from '../../../services/node/TrafficStats';
import { settle } from './EventQueue';
import { localAcksOnly } from './localAcksOnly';
import { getDocument } from './getDocument';
import { sha256 } from './SimReplica';
import { SteppedDisk } from './SteppedDisk';

const docId = 'order' as DocumentId;

test('a client write based on a read survives a crash of the node that served the read', async () => {
  const disk = new SteppedDisk();
  const store = new DocumentStore({ engine: disk, clientId: 1, hash: sha256 });
  const traffic = new TrafficStats();
  const node = new DocumentNode('n1', 'master', store, localAcksOnly, new AntiEntropy('n1', store, sha256, traffic), traffic);

  // The first write is durable; the second is applied in memory, its fsync still running.
  void node.applyOps(docId, [{ kind: 'map-set', path: ['m', 'status'], value: 'placed' }], 'local', 1000);
  await disk.flushOldest();
  void node.applyOps(docId, [{ kind: 'map-set', path: ['m', 'status'], value: 'packed' }], 'local', 1000);
  const read: { answer?: GetResponse } = {};
  getDocument(node, docId).then((res) => void (read.answer = res), () => undefined);
  await settle();

  // The node crashes before the second fsync and restarts from its disk.
  const restarted = new DocumentStore({ engine: disk.durable.snapshot(), clientId: 2, hash: sha256 });
  restarted.load();
  // A read that did not answer before the crash gave the client nothing to build on.
  if (read.answer === undefined) return;

  // The client edits what it read and writes to the restarted node, which acknowledges it.
  const client = new Y.Doc({ guid: 'client' });
  client.clientID = 9;
  Y.applyUpdate(client, read.answer.update);
  const seen = Y.encodeStateVector(client);
  client.getMap('m').set('status', 'paid');
  await restarted.applyUpdate(docId, Y.encodeStateAsUpdate(client, seen), 'client');

  // The acknowledged value must be visible. (With the bug the key vanished: the edit's delete
  // of 'placed' applied, while 'paid' waited forever for the lost 'packed' it replaced.)
  expect(restarted.json(docId)).toEqual({ m: { status: 'paid' } });
});
