// Anti-entropy's heavy synchronous steps (answering a peer's Sync, applying a slice of the diffs
// a pull brought) run one at a time, each after pending I/O had its chance, so that during a heal
// a node's answers to its peers do not wait behind everything else it does: answers go before
// applies (TurnQueue). Real DocumentStore
// and AntiEntropy over an in-memory engine; the yield is injected.
import { createHash } from 'node:crypto';
import { DocumentId } from '../../services/core/crdt/documentId';
import { AntiEntropy, AntiEntropyPeer, applySliceDocsMax } from '../../services/node/AntiEntropy';
import { DocumentStore } from '../../services/node/DocumentStore';
import { TrafficStats } from '../../services/node/TrafficStats';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { SyncRequest } from '../../proto/gen/concord/v1/peer';

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

test("a peer's Sync that arrives while a pull's diffs are applied is answered before the pull's next slice", async () => {
  const docs = 2 * applySliceDocsMax + 50;
  const b = replica(2);
  const ids = Array.from({ length: docs }, (_, i) => `doc-${i}` as DocumentId);
  for (const id of ids) await b.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'v'], value: id }]);
  let answeredWhileHolding: number | undefined;
  let a: ReturnType<typeof replica> | undefined = undefined;
  let queued = false;
  const pending: Promise<unknown>[] = [];
  a = replica(1, async () => {
    await nextTurn();
    // The first slice of the pull is in, the second is queued: a third node's Sync arrives now.
    if (!queued && a !== undefined && a.store.size === applySliceDocsMax) {
      queued = true;
      const req: SyncRequest = { nodeId: 'n3', documents: [{ documentId: 'doc-0', stateVector: new Uint8Array(), update: new Uint8Array(), deleteSetDigest: new Uint8Array() }], pullOnly: true };
      const ae = a.ae;
      const store = a.store;
      pending.push(ae.inTurn(() => {
        answeredWhileHolding = ids.filter((id) => store.has(id)).length;
        return ae.answerSync(req);
      }, 'answer'));
    }
  });
  const toB: AntiEntropyPeer = {
    digest: async (req) => b.ae.answerDigest(req),
    sync: async (req) => b.ae.answerSync(req),
    pushDiff: async (req) => b.ae.acceptPushDiff(req),
  };
  // A directed round: a pulls the documents b named as owed.
  const stats = await a.ae.round('n2', toB, 5_000, ids);
  await Promise.all(pending);
  expect(stats?.documents).toBe(docs);
  expect(ids.every((id) => a?.store.has(id))).toBe(true);
  // The answer ran before the second slice, although that slice was queued first.
  expect(answeredWhileHolding).toBe(applySliceDocsMax);
});
