// Replays every transcript in testdata/ and compares the output byte for byte. Run with
// REWRITE=1 to regenerate the expected outputs after an intended behaviour change (then read
// the diff: it is the review).

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTranscript } from './transcript';

const dir = join(__dirname, 'testdata');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

describe('raft transcripts', () => {
  it.each(files)('%s', (file) => {
    const path = join(dir, file);
    const expected = readFileSync(path, 'utf8');
    const actual = runTranscript(expected);
    if (process.env.REWRITE === '1') {
      writeFileSync(path, actual);
      return;
    }
    expect(actual).toBe(expected);
  });
});
