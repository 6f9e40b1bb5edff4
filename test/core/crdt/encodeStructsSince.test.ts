// A diff without its delete set: on seeded replicas (texts, arrays, maps, nested types; with
// and without garbage collection) that exchange updates late and out of order, the structs-only
// diff is byte for byte Yjs's own diff with the delete set left out, or undefined while the
// sender holds pending content; and applied to a replica whose delete set has the same digest,
// it leaves the same state as Yjs's whole diff. The digest follows the set.
// Replay a seed: SIM_SEED=<seed> npx jest test/core/crdt/encodeStructsSince
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { encodeStructsSince } from '../../../services/core/crdt/encodeStructsSince';
import { stateHash } from '../../../services/core/crdt/stateHash';
import { deleteSetDigest, encodedDeleteSetOf, trackDeletes } from '../../../services/core/crdt/trackDeletes';
import { seedPlan } from '../../sim/convergence/simSeeds';
import { makePrng } from '../../sim/prng';
import { deliverOne, randomEdit, replicasWithInboxes } from './randomEdit';

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();
const hex = (b: Uint8Array | undefined): string => (b === undefined ? 'undefined' : Buffer.from(b).toString('hex'));

/** A replica with the same content as `doc` (what a peer holding exactly that state would be). */
function copyOf(doc: Y.Doc, gc: boolean): Y.Doc {
  const c = new Y.Doc({ gc });
  Y.applyUpdate(c, Y.encodeStateAsUpdate(doc));
  return c;
}

const plan = seedPlan(process.env, 40);

test.each(plan.seeds)('seed %i: the structs-only diff is Yjs\'s diff without its delete set, and enough for a peer with the same delete set', (seed) => {
  const rng = makePrng(seed);
  const { docs, inbox } = replicasWithInboxes();
  trackDeletes(docs[0] as Y.Doc);
  trackDeletes(docs[2] as Y.Doc);
  let compared = 0;
  let stripped = 0;
  for (let step = 0; step < 120; step++) {
    const i = rng.int(3);
    const doc = docs[i] as Y.Doc;
    const queue = inbox[i] as Uint8Array[];
    if (rng.int(10) < 6) randomEdit(doc, rng);
    else if (queue.length > 0) deliverOne(doc, queue, rng);
    for (const [a, b] of [[0, 1], [1, 2], [2, 0]] as const) {
      const from = docs[a] as Y.Doc;
      const to = docs[b] as Y.Doc;
      const sv = Y.encodeStateVector(to);
      const ours = encodeStructsSince(from, sv);
      const at = { seed, step, from: a, to: b };
      if (from.store.pendingStructs !== null || from.store.pendingDs !== null) {
        expect({ ...at, ours: hex(ours) }).toEqual({ ...at, ours: 'undefined' });
        continue;
      }
      const full = Y.encodeStateAsUpdate(from, sv);
      const ds = encodedDeleteSetOf(from);
      // Yjs writes the structs, then the delete set; ours ends with an empty one instead.
      const expected = new Uint8Array([...full.subarray(0, full.byteLength - ds.byteLength), 0]);
      expect({ ...at, endsWithDs: hex(full.subarray(full.byteLength - ds.byteLength)) === hex(ds), ours: hex(ours) })
        .toEqual({ ...at, endsWithDs: true, ours: hex(expected) });
      compared++;
      // A peer holding `to`'s content with `from`'s delete set: the structs alone bring it level.
      if (hex(deleteSetDigest(from, sha256)) !== hex(deleteSetDigest(to, sha256))) continue;
      const viaFull = copyOf(to, b !== 2);
      const viaOurs = copyOf(to, b !== 2);
      Y.applyUpdate(viaFull, full);
      Y.applyUpdate(viaOurs, ours as Uint8Array);
      expect({ ...at, state: hex(stateHash(viaOurs, sha256)), json: viaOurs.toJSON() })
        .toEqual({ ...at, state: hex(stateHash(viaFull, sha256)), json: viaFull.toJSON() });
      stripped++;
    }
  }
  // The run exercised both paths (a seed whose replicas never agree on deletes would not).
  expect({ seed, compared: compared >= 10 }).toEqual({ seed, compared: true });
  expect({ seed, stripped: stripped > 0 }).toEqual({ seed, stripped: true });
});

test('the digest is the same for the same deletes, changes with a delete, and is kept until then', () => {
  const a = new Y.Doc();
  a.clientID = 1;
  trackDeletes(a);
  a.getText('t').insert(0, 'abcdef');
  const b = new Y.Doc();
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  expect(hex(deleteSetDigest(a, sha256))).toBe(hex(deleteSetDigest(b, sha256)));
  let hashed = 0;
  const counting = (bytes: Uint8Array): Uint8Array => {
    hashed++;
    return sha256(bytes);
  };
  const before = deleteSetDigest(a, counting);
  a.getText('t').insert(6, 'g'); // an insert leaves the delete set as it is
  expect(hex(deleteSetDigest(a, counting))).toBe(hex(before));
  expect(hashed).toBe(1);
  a.getText('t').delete(1, 2);
  const after = deleteSetDigest(a, counting);
  expect(hashed).toBe(2);
  expect(hex(after)).not.toBe(hex(before));
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  expect(hex(deleteSetDigest(b, sha256))).toBe(hex(after));
});

test('an empty diff when the peer lacks nothing, and the whole content for an empty state vector', () => {
  const a = new Y.Doc();
  a.clientID = 7;
  a.getMap('m').set('k', 'v');
  expect(Array.from(encodeStructsSince(a, Y.encodeStateVector(a)) as Uint8Array)).toEqual([0, 0]);
  const fresh = new Y.Doc();
  Y.applyUpdate(fresh, encodeStructsSince(a, Y.encodeStateVector(fresh)) as Uint8Array);
  expect(fresh.getMap('m').toJSON()).toEqual({ k: 'v' });
});
