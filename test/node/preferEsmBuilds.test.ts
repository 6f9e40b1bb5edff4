import { execFile } from 'node:child_process';
import path from 'node:path';

interface ProbeReport {
  builds: { specifier: string; loaded: string }[];
  yjsTag: string;
  sameEncoding: boolean;
  roundTrip: Record<string, unknown>;
}

/** Runs the probe in a real Node process with tsx, as a node's entry point runs. */
function probe(mode: 'fresh' | 'cjs-first'): Promise<ProbeReport> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'esmBuildsProbe.ts'), mode], { cwd: path.resolve(__dirname, '..', '..') }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ProbeReport);
    });
  });
}

describe('preferEsmBuilds', () => {
  it('makes require() of Yjs and lib0/encoding return their ES module builds, one instance each', async () => {
    const r = await probe('fresh');
    expect(r.builds).toEqual([{ specifier: 'yjs', loaded: 'esm' }, { specifier: 'lib0/encoding', loaded: 'esm' }]);
    expect(r.yjsTag).toBe('[object Module]');
    expect(r.sameEncoding).toBe(true);
    expect(r.roundTrip).toEqual({ k: 'v' });
  }, 30_000);

  it('leaves a package already loaded as CommonJS alone and says so', async () => {
    const r = await probe('cjs-first');
    expect(r.builds[0]).toEqual({ specifier: 'yjs', loaded: 'cjs-already-loaded' });
    expect(r.yjsTag).not.toBe('[object Module]');
    expect(r.roundTrip).toEqual({ k: 'v' });
  }, 30_000);
});
