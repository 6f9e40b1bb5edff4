// The integration helper cleans up after itself even when the cluster never starts: its data
// dir does not outlive a launch that fails (here a node refuses an unknown flag and exits).
// The helper runs in a child process with a temp dir of its own (TMPDIR), so other workers'
// clusters do not show in it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-cleanup-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('a cluster that fails to start leaves no data dir behind', () => {
  const script = `
    import('./test/integration/startTestCluster.ts')
      .then((m) => (m.startTestCluster ?? m.default.startTestCluster)(3, ['--no-such-flag']))
      .then(() => { console.log('started'); process.exit(1); }, (err) => { console.log('refused: ' + String(err).split('\\n')[0]); process.exit(0); });
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, TMPDIR: tmp },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(out).toMatch(/^refused: .*exited/m);
  // (tsx keeps its cache there too.)
  expect(fs.readdirSync(tmp).filter((f) => f.startsWith('concord-'))).toEqual([]);
}, 70_000);
