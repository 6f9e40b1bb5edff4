import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareResults } from './compareResults';
import { ResultsDoc } from './formatResults';

// `npm run bench:compare -- <before> [<after>]` entry: prints two runs side by side (see
// compareResults). A run is named by its results.json, its folder, or the folder's name under
// test/bench/results; <after> defaults to the latest run.

const resultsDir = path.resolve(__dirname, 'results');
const usage = 'usage: npm run bench:compare -- <before> [<after>]   (a results.json, its folder, or a folder name under test/bench/results; <after> defaults to the latest run)';

/** The results file a command-line argument names. */
export function resolveRun(arg: string, cwd: string, dir = resultsDir): string {
  for (const candidate of [path.resolve(cwd, arg), path.join(dir, arg)]) {
    if (!fs.existsSync(candidate)) continue;
    return fs.statSync(candidate).isDirectory() ? path.join(candidate, 'results.json') : candidate;
  }
  throw new Error(`no benchmark run ${arg} (neither a path nor a folder under ${path.relative(cwd, dir) || '.'})`);
}

/** Reads a results file, failing with the file's name when it is not one. */
export function readRun(file: string): ResultsDoc {
  let doc: Partial<ResultsDoc>;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ResultsDoc>;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc.measurements) || !Array.isArray(doc.targets) || doc.machine === undefined) {
    throw new Error(`${file} is not the results.json of a benchmark run`);
  }
  return doc as ResultsDoc;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  try {
    if (args.length < 1 || args.length > 2 || args.some((a) => a.startsWith('-'))) throw new Error(usage);
    const before = readRun(resolveRun(args[0] as string, process.cwd()));
    const after = readRun(args[1] === undefined ? path.join(resultsDir, 'latest.json') : resolveRun(args[1], process.cwd()));
    process.stdout.write(compareResults(before, after));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}
