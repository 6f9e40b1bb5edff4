// After a split, anti-entropy moves bytes in proportion to the documents that diverged, not to
// the documents that exist: 100 diverged of 10,000 costs about what 100 diverged of 1,000 does,
// and both sides end with identical documents. Real DocumentStore + AntiEntropy, in memory.
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { DocumentId } from '../../services/core/crdt/documentId';
import { renderJson } from '../../services/core/crdt/renderJson';
import { AntiEntropy, AntiEntropyPeer } from '../../services/node/AntiEntropy';
import { DocumentStore } from '../../services/node/DocumentStore';
import { TrafficStats } from '../../services/node/TrafficStats';
import { MemoryEngine } from '../../services/storage/MemoryEngine';

const sha = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

function replica(clientId: number): { store: DocumentStore; ae: AntiEntropy; traffic: TrafficStats } {
  const store = new DocumentStore({ engine: new MemoryEngine(), clientId, hash: sha });
  const traffic = new TrafficStats();
  return { store, ae: new AntiEntropy(`n${clientId}`, store, sha, traffic), traffic };
}

/** A peer port that calls the other replica's responder directly. */
function direct(to: AntiEntropy): AntiEntropyPeer {
  return {
    digest: async (req) => to.answerDigest(req),
    sync: async (req) => to.answerSync(req),
    pushDiff: async (req) => to.acceptPushDiff(req),
  };
}

async function healBytes(total: number, diverged: number): Promise<{ bytes: number; docs: number; dataBytes: number }> {
  const a = replica(1);
  const b = replica(2);
  let dataBytes = 0;
  for (let i = 0; i < total; i++) {
    const id = `doc-${i}` as DocumentId;
    const { update } = await a.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'v'], value: `value ${i} ${'x'.repeat(40)}` }]);
    dataBytes += update.byteLength;
    await b.store.applyUpdate(id, update, 'remote:n1');
  }
  // Both sides in sync: a round costs one root comparison.
  const quiet = await a.ae.round('n2', direct(b.ae));
  expect(quiet?.documents).toBe(0);
  // The split: each side edits `diverged / 2` documents the other does not see.
  for (let i = 0; i < diverged / 2; i++) {
    await a.store.applyOps(`doc-${i * 7}` as DocumentId, [{ kind: 'map-set', path: ['m', 'a'], value: i }]);
    await b.store.applyOps(`doc-${i * 7 + 3}` as DocumentId, [{ kind: 'counter-add', path: ['c'], delta: 1 }]);
  }
  const heal = await a.ae.round('n2', direct(b.ae));
  for (let i = 0; i < total; i += 97) {
    const id = `doc-${i}` as DocumentId;
    expect(renderJson(a.store.peek(id) as Y.Doc)).toEqual(renderJson(b.store.peek(id) as Y.Doc));
  }
  for (let i = 0; i < diverged / 2; i++) {
    for (const id of [`doc-${i * 7}`, `doc-${i * 7 + 3}`] as DocumentId[]) {
      expect(a.store.stateHash(id)).toEqual(b.store.stateHash(id));
    }
  }
  const after = await a.ae.round('n2', direct(b.ae));
  expect(after?.documents).toBe(0);
  return { bytes: (heal?.bytesSent ?? 0) + (heal?.bytesReceived ?? 0), docs: heal?.documents ?? 0, dataBytes };
}

test('heal cost follows the divergence, not the data size', async () => {
  const small = await healBytes(1_000, 100);
  const large = await healBytes(10_000, 100);
  console.log(`heal bytes: 100 diverged of 1,000 -> ${small.bytes} B; of 10,000 -> ${large.bytes} B (data ${large.dataBytes} B)`);
  expect(small.docs).toBe(100);
  expect(large.docs).toBe(100);
  // Ten times the documents: one tree level more to descend (16 short hashes per differing
  // node), not ten times the bytes.
  expect(large.bytes).toBeLessThan(small.bytes * 2);
  // And far from a resend: the data set is ~700 KB.
  expect(large.bytes).toBeLessThan(large.dataBytes / 10);
}, 120_000);
