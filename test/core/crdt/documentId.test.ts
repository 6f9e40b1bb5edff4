import { documentIdBytesMax, parseDocumentId } from '../../../services/core/crdt/documentId';
import { DomainError } from '../../../services/core/errors/DomainError';
import { seedPlan } from '../../sim/convergence/simSeeds';
import { makePrng } from '../../sim/prng';

// Document ids are 1..256 bytes of UTF-8 without control characters. The parser counts bytes
// only for ids long enough to exceed the limit; these runs check it against TextEncoder's count
// on ids of one-, two-, three- and four-byte characters (and lone surrogates) around the limit.
// Replay a seed: SIM_SEED=<seed> npx jest test/core/crdt/documentId

const utf8Bytes = (s: string): number => new TextEncoder().encode(s).length;

/** Characters of every UTF-8 width, a lone surrogate (3 bytes as U+FFFD) and a control character. */
const alphabet = ['a', '/', 'é', 'ж', '€', '中', '😀', '\ud800', '\u0007'];

function verdict(id: string): 'ok' | 'rejected' {
  try {
    parseDocumentId(id);
    return 'ok';
  } catch (err) {
    if (!(err instanceof DomainError) || err.kind !== 'invalid-argument') throw err;
    return 'rejected';
  }
}

test('ids at the byte limit pass and one byte over fail, whatever the width of their characters', () => {
  for (const [ch, width] of [['a', 1], ['é', 2], ['€', 3], ['😀', 4]] as const) {
    const fits = Math.floor(documentIdBytesMax / width);
    const pad = 'a'.repeat(documentIdBytesMax - fits * width);
    expect(verdict(ch.repeat(fits) + pad)).toBe('ok');
    expect(verdict(`${ch.repeat(fits)}${pad}a`)).toBe('rejected');
  }
  expect(() => parseDocumentId('€'.repeat(86))).toThrow('document id is 258 bytes; at most 256 are allowed');
  expect(() => parseDocumentId('')).toThrow('document id is empty');
});

const plan = seedPlan(process.env, 40);

test.each(plan.seeds)('seed %i: an id is accepted exactly when it fits 256 bytes of UTF-8 and has no control character', (seed) => {
  const rand = makePrng(seed);
  for (let i = 0; i < 200; i++) {
    // Lengths around the point where counting starts (85 code units) and around the limit.
    const length = 1 + rand.int(rand.chance(0.5) ? 100 : 300);
    let id = '';
    while (id.length < length) id += rand.chance(0.97) ? rand.pick(alphabet.slice(0, -1)) : rand.pick(alphabet);
    const expected = utf8Bytes(id) <= documentIdBytesMax && !id.includes('\u0007') ? 'ok' : 'rejected';
    if (verdict(id) !== expected) throw new Error(`seed ${seed}: ${JSON.stringify(id)} (${id.length} units, ${utf8Bytes(id)} bytes) was ${verdict(id)}, expected ${expected}`);
  }
});
