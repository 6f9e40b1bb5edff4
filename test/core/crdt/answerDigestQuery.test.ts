// Proves that a digest descent with early listing finds exactly the documents that differ
// (changed on one side, or held by one side only) whatever the list threshold, and that listing
// early sends fewer bytes than descending to the leaves. Seeded; a failure names its seed.
import { createHash } from 'node:crypto';
import { answerDigestQuery, differingDocuments } from '../../../services/core/crdt/answerDigestQuery';
import { childrenOf, DigestIndex, digestFanout, digestLeafLevel } from '../../../services/core/crdt/DigestIndex';
import { makePrng } from '../../sim/prng';

const sha = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

/** The leaf buckets under node `index` of `level` (the brute-force reference). */
const leavesUnder = (level: number, index: number): number[] => {
  const span = digestFanout ** (digestLeafLevel - level);
  return Array.from({ length: span }, (_, i) => index * span + i);
};
const state = (s: string): Uint8Array => sha(new TextEncoder().encode(s));

/** The caller's side of a descent against `theirs`; returns the differing ids and the hash bytes sent. */
function descend(mine: DigestIndex, theirs: DigestIndex, listMax: number): { ids: string[]; hashBytes: number } {
  let level = 0;
  let indexes = [0];
  let hashBytes = 0;
  const listedTheirs = new Map<string, Uint8Array>();
  const listedMine = new Map<string, Uint8Array>();
  for (;;) {
    const hashes = mine.hashesAt(level, indexes);
    hashBytes += hashes.reduce((n, h) => n + h.length, 0);
    const a = answerDigestQuery(theirs, { level, indexes, hashes, listMax });
    for (const [id, h] of a.documents) listedTheirs.set(id, h);
    for (const node of a.listed) for (const [id, h] of mine.documentsUnder(level, node)) listedMine.set(id, h);
    if (level === digestLeafLevel) expect(a.differing).toEqual([]);
    if (a.differing.length === 0) break;
    indexes = childrenOf(a.differing);
    level++;
  }
  return { ids: differingDocuments(listedMine, listedTheirs), hashBytes };
}

const seeds = Array.from({ length: 20 }, (_, i) => i + 1);

test.each(seeds)('seed %i: the descent finds exactly the differing documents', (seed) => {
  try {
    const prng = makePrng(seed);
    const a = new DigestIndex(sha);
    const b = new DigestIndex(sha);
    const total = 1 + prng.int(2000);
    const expected = new Set<string>();
    for (let i = 0; i < total; i++) {
      const id = `doc/${seed}/${i}`;
      const r = prng.next();
      if (r < 0.05) {
        a.set(id, state(`${id}:1`));
        expected.add(id);
      } else if (r < 0.1) {
        b.set(id, state(`${id}:1`));
        expected.add(id);
      } else {
        a.set(id, state(`${id}:1`));
        b.set(id, state(r < 0.2 ? `${id}:2` : `${id}:1`));
        if (r < 0.2) expected.add(id);
      }
    }
    const want = [...expected].sort();
    for (const listMax of [0, 1, 8, 64, 5000]) {
      expect(descend(a, b, listMax).ids).toEqual(want);
      expect(descend(b, a, listMax).ids).toEqual(want);
    }
    // The per-node counts and listings equal a walk over the leaves, at every level.
    for (let k = 0; k < 30; k++) {
      const level = prng.int(digestLeafLevel + 1);
      const node = prng.int(digestFanout ** level);
      const walked = new Map(leavesUnder(level, node).flatMap((leaf) => [...a.documentsUnder(digestLeafLevel, leaf)]));
      expect(a.countUnder(level, node)).toBe(walked.size);
      expect(a.documentsUnder(level, node)).toEqual(walked);
    }
  } catch (err) {
    throw new Error(`seed ${seed} (replay: npx jest test/core/crdt/answerDigestQuery -t "seed ${seed}:"): ${(err as Error).message}`);
  }
});

test('equal indexes compare at the root only', () => {
  const a = new DigestIndex(sha);
  const b = new DigestIndex(sha);
  for (let i = 0; i < 100; i++) {
    a.set(`d${i}`, state(`d${i}`));
    b.set(`d${i}`, state(`d${i}`));
  }
  expect(descend(a, b, 8)).toEqual({ ids: [], hashBytes: 8 });
});

test('listing a sparse subtree costs fewer hash bytes than descending to the leaves', () => {
  const a = new DigestIndex(sha);
  const b = new DigestIndex(sha);
  for (let i = 0; i < 500; i++) {
    a.set(`d${i}`, state(`d${i}`));
    b.set(`d${i}`, state(i % 50 === 0 ? `d${i}:changed` : `d${i}`));
  }
  const leaves = descend(a, b, 0);
  const listed = descend(a, b, 8);
  expect(listed.ids).toEqual(leaves.ids);
  expect(listed.ids).toHaveLength(10);
  expect(listed.hashBytes).toBeLessThan(leaves.hashBytes / 2);
});

test('counts follow new documents only (a changed hash moves no count)', () => {
  const a = new DigestIndex(sha);
  a.set('x', state('1'));
  a.set('x', state('2'));
  a.set('y', state('1'));
  expect(a.countUnder(0, 0)).toBe(2);
  expect([...a.documentsUnder(0, 0).keys()].sort()).toEqual(['x', 'y']);
});
