import { preferEsmBuilds } from '../../services/node/preferEsmBuilds';

// `npm run bench` entry. Yjs's ES module build takes the place of the CommonJS one before any
// scenario loads Yjs, as in a node process: the in-process Yjs merge the heal target is judged
// against runs the same build as the nodes (the CommonJS one is about a fifth slower).
async function main(): Promise<void> {
  await preferEsmBuilds();
  const { runBenchCli } = await import('./runBench');
  runBenchCli(process.argv.slice(2));
}

void main();
