// Anti-entropy's heavy synchronous steps (answering a peer's Sync, applying a slice of the diffs
// a pull brought or a peer pushed) run one at a time, each after pending I/O had its chance, so
// that during a heal a node's answers to its peers do not wait behind everything else it does:
// what a peer waits for goes before the node's own pulls (TurnQueue). Real DocumentStore and
// AntiEntropy over an in-memory engine; the yield is injected.
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { DocumentId } from '../../services/core/crdt/documentId';
import { AntiEntropy, AntiEntropyPeer, applySliceDocsMax } from '../../services/node/AntiEntropy';
import { DocumentStore } from '../../services/node/DocumentStore';
import { TrafficStats } from '../../services/node/TrafficStats';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { SyncResponse } from '../../proto/gen/concord/v1/peer';

const sha = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function replica(clientId: number, yieldToIo?: () => Promise<void>): { store: DocumentStore; ae: AntiEntropy } {
  const store = new DocumentStore({ engine: new MemoryEngine(), clientId, hash: sha });
  return { store, ae: new AntiEntropy(`n${clientId}`, store, sha, new TrafficStats(), yieldToIo) };
}

test('steps run one at a time, in the order queued, each after a yield; a failing step does not stop the next', async () => {
  const log: string[] = [];
  const { ae } = replica(1, async () => {
    log.push('yield');
    await nextTurn();
  });
  const step = (name: string, fail = false) => (): string => {
    log.push(`${name} runs`);
    if (fail) throw new Error(`${name} failed`);
    return name;
  };
  const results = await Promise.allSettled([ae.inTurn(step('a'), 'apply'), ae.inTurn(step('b', true), 'apply'), ae.inTurn(step('c'), 'apply')]);
  expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c']);
  expect(log).toEqual(['yield', 'a runs', 'yield', 'b runs', 'yield', 'c runs']);
});

/**
 * A pulls from b the documents b named as owed (a directed round of 2.5 slices). `arrives` runs
 * once, in the yield after the pull's first slice was applied and its second was queued: what a
 * third node sends then.
 */
async function pullWhile(arrives: (a: ReturnType<typeof replica>, ids: readonly DocumentId[]) => void): Promise<{ a: ReturnType<typeof replica>; ids: DocumentId[] }> {
  const docs = 2 * applySliceDocsMax + 50;
  const b = replica(2);
  const ids = Array.from({ length: docs }, (_, i) => `doc-${i}` as DocumentId);
  for (const id of ids) await b.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'v'], value: id }]);
  let fired = false;
  const a: ReturnType<typeof replica> = replica(1, async () => {
    await nextTurn();
    if (!fired && a.store.size === applySliceDocsMax) {
      fired = true;
      arrives(a, ids);
    }
  });
  const toB: AntiEntropyPeer = {
    digest: async (req) => b.ae.answerDigest(req),
    sync: async (req) => b.ae.answerSync(req),
    pushDiff: async (req) => b.ae.acceptPushDiff(req),
  };
  const stats = await a.ae.round('n2', toB, 5_000, ids);
  expect(fired).toBe(true);
  expect(stats?.documents).toBe(docs);
  expect(ids.every((id) => a.store.has(id))).toBe(true);
  return { a, ids };
}

const noBytes = new Uint8Array();

test("a peer's Sync that arrives while a pull's diffs are applied is answered before the pull's next slice", async () => {
  let answer: Promise<SyncResponse> | undefined;
  const { ids } = await pullWhile((a, pulling) => {
    // n3 asks (as the peer service does) for a document of the first slice and one of the second.
    const documents = [pulling[0] as string, pulling[applySliceDocsMax] as string].map((documentId) => ({ documentId, stateVector: noBytes, update: noBytes, deleteSetDigest: noBytes }));
    answer = a.ae.answerSyncInTurn({ nodeId: 'n3', documents, pullOnly: true });
  });
  const got = await (answer as Promise<SyncResponse>);
  // The answer ran before the second slice, although that slice was queued first: it carries
  // the first slice's document and nothing yet of the second's.
  expect(got.documents.map((d) => [d.documentId, d.update.length > 0])).toEqual([[ids[0], true], [ids[applySliceDocsMax], false]]);
});

test("a peer's PushDiff that arrives while a pull's diffs are applied goes in before the pull's next slice", async () => {
  const order: string[] = [];
  let pushed: Promise<unknown> | undefined;
  const pusher = new Y.Doc();
  pusher.getMap('m').set('v', 'from n3');
  await pullWhile((a) => {
    a.store.onChange((c) => order.push(c.docId));
    pushed = a.ae.acceptPushDiff({ nodeId: 'n3', documents: [{ documentId: 'pushed', stateVector: noBytes, update: Y.encodeStateAsUpdate(pusher), deleteSetDigest: noBytes }] });
  });
  await pushed;
  // Stored before any document of the second slice.
  expect(order[0]).toBe('pushed');
  expect(order.length).toBe(1 + applySliceDocsMax + 50);
});
