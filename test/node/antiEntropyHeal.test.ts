// After a split, anti-entropy moves bytes in proportion to the documents that diverged, not to
// the documents that exist: 100 diverged of 10,000 costs about what 100 diverged of 1,000 does,
// and both sides end with identical documents. Real DocumentStore + AntiEntropy, in memory.
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { DocumentId } from '../../services/core/crdt/documentId';
import { renderJson } from '../../services/core/crdt/renderJson';
import { encodedDeleteSetOf } from '../../services/core/crdt/trackDeletes';
import { AntiEntropy, AntiEntropyPeer } from '../../services/node/AntiEntropy';
import { DocumentStore } from '../../services/node/DocumentStore';
import { TrafficStats } from '../../services/node/TrafficStats';
import { editedText } from '../bench/scenarios/editedText';
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

test("a document merged from one peer is not fetched again from another listing the same state while that one pulls", async () => {
  // a was cut off from b and c; b and c hold the same 50 edits a lacks, a holds 50 of its own.
  const [a, b, c] = [replica(1), replica(2), replica(3)];
  for (let i = 0; i < 50; i++) {
    const id = `doc-${i}` as DocumentId;
    const { update } = await b.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'b'], value: i }]);
    await c.store.applyUpdate(id, update, 'remote:n2');
    await a.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'a'], value: i }]);
  }
  const peers = new Map([['n1', a.ae], ['n2', b.ae], ['n3', c.ae]]);
  // Digest steps reach the responder as from the caller (so it knows who is running rounds).
  const from = (caller: string, to: string): AntiEntropyPeer => {
    const t = peers.get(to) as AntiEntropy;
    return {
      digest: async (req) => t.answerDigest({ ...req, nodeId: caller }),
      sync: async (req) => t.answerSync({ ...req, nodeId: caller }),
      pushDiff: async (req) => t.acceptPushDiff({ ...req, nodeId: caller }),
    };
  };
  const fromB = await a.ae.round('n2', from('n1', 'n2'));
  expect(fromB?.documents).toBe(50);
  // Both ends of the a-c link start a round (as on reconnect); c's first digest step reaches a
  // after a's round began. c lists the state a already merged from b: a syncs nothing with c.
  const signal = (): { promise: Promise<void>; fire: () => void } => {
    let fire: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      fire = resolve;
    });
    return { promise, fire };
  };
  const aStarted = signal();
  const cStepped = signal();
  const toA = from('n3', 'n1');
  const cRound = c.ae.round('n1', {
    ...toA,
    digest: async (req, ms) => {
      await aStarted.promise;
      const res = await toA.digest(req, ms);
      cStepped.fire();
      return res;
    },
  });
  const toC = from('n1', 'n3');
  let syncCalls = 0;
  const withC = await a.ae.round('n3', {
    ...toC,
    digest: async (req, ms) => {
      aStarted.fire();
      await cStepped.promise;
      return toC.digest(req, ms);
    },
    sync: async (req, ms) => {
      syncCalls++;
      return toC.sync(req, ms);
    },
  });
  expect(withC?.documents).toBe(50); // they differ (c lacks a's edits)...
  expect(syncCalls).toBe(0); // ...but there is nothing to fetch, and c's own round pulls a's side
  expect((await cRound)?.documents).toBe(50);
  for (let i = 0; i < 50; i++) {
    const id = `doc-${i}` as DocumentId;
    const want = renderJson(a.store.peek(id) as Y.Doc);
    expect(want).toEqual({ m: { a: i, b: i } });
    expect(renderJson(c.store.peek(id) as Y.Doc)).toEqual(want);
  }
});

test('a round asked for while one with the same peer runs is asked for again when that one ends', async () => {
  const [a, b] = [replica(1), replica(2)];
  await b.store.applyOps('doc-x' as DocumentId, [{ kind: 'map-set', path: ['m', 'k'], value: 1 }]);
  const wanted: string[] = [];
  a.ae.onRoundWanted = (peerId) => wanted.push(peerId);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const port = direct(b.ae);
  const first = a.ae.round('n2', { ...port, digest: async (req, ms) => {
    await held;
    return port.digest(req, ms);
  } });
  expect(await a.ae.round('n2', port)).toBeUndefined(); // refused: one is running
  expect(await a.ae.round('n2', port)).toBeUndefined();
  expect(wanted).toEqual([]);
  release();
  expect((await first)?.documents).toBe(1);
  expect(wanted).toEqual(['n2']); // once, however often it was refused
  expect((await a.ae.round('n2', port))?.documents).toBe(0);
  expect(wanted).toEqual(['n2']);
});

test('a directed round pulls exactly the documents the peer named, with no digest step and no push', async () => {
  const [a, b] = [replica(1), replica(2)];
  // 2,000 documents in common; during a split a edits 30 of them, b edits 30 others.
  for (let i = 0; i < 2_000; i++) {
    const id = `doc-${i}` as DocumentId;
    const { update } = await a.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'v'], value: i }]);
    await b.store.applyUpdate(id, update, 'remote:n1');
  }
  const owedByA: string[] = [];
  const owedByB: string[] = [];
  for (let i = 0; i < 30; i++) {
    owedByA.push(`doc-${i * 11}`);
    owedByB.push(`doc-${i * 11 + 5}`);
    await a.store.applyOps(`doc-${i * 11}` as DocumentId, [{ kind: 'map-set', path: ['m', 'a'], value: i }]);
    await b.store.applyOps(`doc-${i * 11 + 5}` as DocumentId, [{ kind: 'counter-add', path: ['c'], delta: 2 }]);
  }
  const pulledFromA: string[] = [];
  a.ae.onPulled = (peerId, ids) => pulledFromA.push(...ids.map((id) => `${peerId}:${id}`));
  let digestSteps = 0;
  let pushes = 0;
  const counted = (t: AntiEntropy): AntiEntropyPeer => {
    const port = direct(t);
    return {
      ...port,
      digest: async (req, ms) => {
        digestSteps++;
        return port.digest(req, ms);
      },
      pushDiff: async (req, ms) => {
        pushes++;
        return port.pushDiff(req, ms);
      },
    };
  };
  // Each side pulls what the other named.
  const [fromB, fromA] = await Promise.all([
    a.ae.round('n2', counted(b.ae), 5_000, owedByB),
    b.ae.round('n1', counted(a.ae), 5_000, owedByA),
  ]);
  expect(fromB?.directed).toBe(true);
  expect(fromB?.documents).toBe(30);
  expect(fromA?.documents).toBe(30);
  expect(digestSteps).toBe(0);
  expect(pushes).toBe(0);
  expect(pulledFromA.sort()).toEqual(owedByA.map((id) => `n2:${id}`).sort());
  for (const id of [...owedByA, ...owedByB] as DocumentId[]) expect(a.store.stateHash(id)).toEqual(b.store.stateHash(id));
  // Nothing else differed: a digest round afterwards finds nothing.
  expect((await a.ae.round('n2', direct(b.ae)))?.documents).toBe(0);
  expect(a.traffic.antiEntropyDirectedRounds).toBe(1);
});

test('a round does not push a document the peer pulled from us after the round began', async () => {
  // Both ends of a link start a round, b's a little later: b answers a's fetch before its own
  // round runs (so a would push), then b's round pulls a's side; a's push would cross twice.
  const [a, b] = [replica(1), replica(2)];
  const ids = Array.from({ length: 20 }, (_, i) => `doc-${i}` as DocumentId);
  for (const id of ids) {
    await a.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'a'], value: 'x'.repeat(200) }]);
    await b.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'b'], value: 1 }]);
  }
  const asFrom = (caller: string, t: AntiEntropy): AntiEntropyPeer => ({
    digest: async (req) => t.answerDigest({ ...req, nodeId: caller }),
    sync: async (req) => t.answerSync({ ...req, nodeId: caller }),
    pushDiff: async (req) => t.acceptPushDiff({ ...req, nodeId: caller }),
  });
  const toB = asFrom('n1', b.ae);
  let pushed = 0;
  const aRound = await a.ae.round('n2', {
    ...toB,
    sync: async (req, ms) => {
      const res = await toB.sync(req, ms);
      expect(res.pullsBack).toBe(false); // b runs no round yet
      await b.ae.round('n1', asFrom('n2', a.ae));
      return res;
    },
    pushDiff: async (req, ms) => {
      pushed += req.documents.length;
      return toB.pushDiff(req, ms);
    },
  });
  expect(aRound?.documents).toBe(20);
  expect(pushed).toBe(0);
  for (const id of ids) {
    expect(renderJson(b.store.peek(id) as Y.Doc)).toEqual(renderJson(a.store.peek(id) as Y.Doc));
    expect(renderJson(a.store.peek(id) as Y.Doc)).toEqual({ m: { a: 'x'.repeat(200), b: 1 } });
  }
});

test('a round names what it left to the peer to pull and the peer has not pulled yet', async () => {
  const [a, b] = [replica(1), replica(2)];
  const ids = ['doc-1', 'doc-2'] as DocumentId[];
  for (const id of ids) await a.store.applyOps(id, [{ kind: 'map-set', path: ['m', 'a'], value: 1 }]);
  const toB = direct(b.ae);
  // b says it pulls back (its own round is running) but never gets to it.
  const stats = await a.ae.round('n2', { ...toB, sync: async (req, ms) => ({ ...(await toB.sync(req, ms)), pullsBack: true }) });
  expect([...(stats?.leftToPeer ?? [])].sort()).toEqual(ids);
  // When b does pull during the round, nothing is left.
  const pulling = await a.ae.round('n2', { ...toB, sync: async (req, ms) => {
    const res = await toB.sync(req, ms);
    await b.ae.round('n1', direct(a.ae));
    return { ...res, pullsBack: true };
  } });
  expect(pulling?.leftToPeer).toEqual([]);
  for (const id of ids) expect(b.store.stateHash(id)).toEqual(a.store.stateHash(id));
});

test('an answer past its byte budget names a prefix, and the round asks again for the rest', async () => {
  const [a, b] = [replica(1), replica(2)];
  // Four documents of about 3 MiB each: more than one answer may carry.
  const ids = Array.from({ length: 4 }, (_, i) => `big-${i}` as DocumentId);
  for (const [i, id] of ids.entries()) {
    const doc = new Y.Doc();
    doc.getMap('m').set('blob', String.fromCharCode(97 + i).repeat(3 << 20));
    await a.store.applyUpdate(id, Y.encodeStateAsUpdate(doc), 'client');
  }
  const port = direct(a.ae);
  const answered: number[] = [];
  const stats = await b.ae.round('n1', { ...port, sync: async (req, ms) => {
    const res = await port.sync(req, ms);
    answered.push(res.documents.length);
    return res;
  } }, 5_000, ids);
  expect(stats?.documents).toBe(4);
  expect(answered).toEqual([3, 1]);
  for (const id of ids) expect(b.store.stateHash(id)).toEqual(a.store.stateHash(id));
}, 60_000);

test('pushes go in calls of at most a few MiB, whatever the size of the documents', async () => {
  const [a, b] = [replica(1), replica(2)];
  const ids = Array.from({ length: 3 }, (_, i) => `big-${i}` as DocumentId);
  for (const [i, id] of ids.entries()) {
    const doc = new Y.Doc();
    doc.getMap('m').set('blob', String.fromCharCode(97 + i).repeat(3 << 20));
    await a.store.applyUpdate(id, Y.encodeStateAsUpdate(doc), 'client');
  }
  const port = direct(b.ae);
  const pushed: number[] = [];
  await a.ae.round('n2', { ...port, pushDiff: async (req, ms) => {
    pushed.push(req.documents.reduce((n, d) => n + d.update.length, 0));
    return port.pushDiff(req, ms);
  } });
  expect(pushed.length).toBe(3);
  for (const n of pushed) expect(n).toBeLessThan(4 << 20);
  for (const id of ids) expect(b.store.stateHash(id)).toEqual(a.store.stateHash(id));
}, 60_000);

test('a document larger than any one client update reaches a replica that lacks it', async () => {
  const [a, b] = [replica(1), replica(2)];
  const id = 'grown' as DocumentId;
  // Six client updates of 1 MiB each: every one within the client limit, the document beyond it.
  for (let i = 0; i < 6; i++) {
    const doc = new Y.Doc();
    doc.getMap('m').set(`part${i}`, String.fromCharCode(97 + i).repeat(1 << 20));
    await a.store.applyUpdate(id, Y.encodeStateAsUpdate(doc), 'client');
  }
  const stats = await b.ae.round('n1', direct(a.ae));
  expect(stats?.documents).toBe(1);
  expect(b.store.stateHash(id)).toEqual(a.store.stateHash(id));
  // A client still may not send that much at once.
  const whole = Y.encodeStateAsUpdate(a.store.peek(id) as Y.Doc);
  await expect(replica(3).store.applyUpdate(id, whole, 'client')).rejects.toThrow(/at most/);
}, 60_000);

test('a much-edited text whose deletes both sides share heals without its delete set; deletes made apart still cross', async () => {
  const [a, b] = [replica(1), replica(2)];
  const id = 'text' as DocumentId;
  // 4,000 edits at positions from a fixed seed: a delete set of hundreds of ranges (1.8 KB).
  const state = editedText(4_000);
  await a.store.applyUpdate(id, state, 'client');
  await b.store.applyUpdate(id, state, 'remote:n1');
  const dsBytes = encodedDeleteSetOf(a.store.peek(id) as Y.Doc).byteLength;
  expect(dsBytes).toBeGreaterThan(1_500);
  // A typed write records the text's kind ($kinds): once on one side, synced, so that the two
  // sides' inserts below do not both record it (one entry would then delete the other).
  await a.store.applyOps(id, [{ kind: 'text-insert', path: ['t'], index: 0, text: '>' }]);
  expect((await a.ae.round('n2', direct(b.ae)))?.documents).toBe(1);
  // Apart, each side only inserts: the delete sets stay equal.
  await a.store.applyOps(id, [{ kind: 'text-insert', path: ['t'], index: 0, text: 'from a' }]);
  await b.store.applyOps(id, [{ kind: 'text-insert', path: ['t'], index: 5, text: 'from b' }]);
  const inserts = await a.ae.round('n2', direct(b.ae));
  expect(inserts?.documents).toBe(1);
  expect(a.store.stateHash(id)).toEqual(b.store.stateHash(id));
  expect(renderJson(a.store.peek(id) as Y.Doc)).toEqual(renderJson(b.store.peek(id) as Y.Doc));
  // Both diffs crossed without the delete set (each would carry it whole otherwise).
  const insertBytes = (inserts?.bytesSent ?? 0) + (inserts?.bytesReceived ?? 0);
  expect(insertBytes).toBeLessThan(dsBytes / 2);
  // Apart again, a deletes and b inserts: the delete sets differ, and a's deletes reach b.
  await a.store.applyOps(id, [{ kind: 'text-delete', path: ['t'], index: 10, length: 20 }]);
  await b.store.applyOps(id, [{ kind: 'text-insert', path: ['t'], index: 0, text: 'b again' }]);
  const deletes = await a.ae.round('n2', direct(b.ae));
  expect(deletes?.documents).toBe(1);
  expect(a.store.stateHash(id)).toEqual(b.store.stateHash(id));
  expect(renderJson(a.store.peek(id) as Y.Doc)).toEqual(renderJson(b.store.peek(id) as Y.Doc));
  const again = await a.ae.round('n2', direct(b.ae));
  expect(again?.documents).toBe(0);
});
