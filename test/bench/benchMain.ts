import { preferEsmBuilds } from '../../services/node/preferEsmBuilds';
import { quietIpServerNameWarning } from '../../services/node/quietIpServerNameWarning';

// `npm run bench` entry. Yjs's ES module build takes the place of the CommonJS one before any
// scenario loads Yjs, as in a node process: the in-process Yjs merge the heal target is judged
// against runs the same build as the nodes (the CommonJS one is about a fifth slower). The tls
// scenario's clients dial nodes by IP address, as the CLI does: no DEP0123 warning either.
async function main(): Promise<void> {
  quietIpServerNameWarning();
  await preferEsmBuilds();
  const { runBenchCli } = await import('./runBench');
  runBenchCli(process.argv.slice(2));
}

void main();
