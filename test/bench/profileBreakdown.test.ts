import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { categoryOf, CpuProfile, profileBreakdown, repoRootUrl } from './profileBreakdown';
import { readNodeProfiles } from './nodeProfiles';

const root = 'file:///srv/concord/';

describe('categoryOf', () => {
  it.each([
    [`${root}node_modules/yjs/dist/yjs.mjs`, 'applyUpdate', 'Yjs'],
    [`${root}node_modules/lib0/encoding.js`, 'writeVarUint', 'Yjs'],
    [`${root}node_modules/@grpc/grpc-js/build/src/server.js`, 'x', 'grpc-js'],
    [`${root}node_modules/@bufbuild/protobuf/dist/cjs/wire/binary-encoding.js`, 'x', 'protobuf'],
    [`${root}proto/gen/concord/v1/documents.ts`, 'encode', 'protobuf'],
    [`${root}node_modules/sorted-btree/b+tree.js`, 'set', 'storage'],
    [`${root}node_modules/lmdb/read.js`, 'get', 'storage'],
    [`${root}services/storage/LoggedEngine.ts`, 'write', 'storage'],
    [`${root}services/core/consensus/Raft.ts`, 'step', 'consensus'],
    [`${root}services/node/authority/AuthorityNode.ts`, 'handle', 'consensus'],
    [`${root}services/node/DocumentStore.ts`, 'applyUpdate', 'documents'],
    [`${root}services/core/crdt/applyOperations.ts`, 'applyOperations', 'documents'],
    [`${root}services/rpc/documentService.ts`, 'apply', 'rpc'],
    [`${root}services/telemetry/traceWrite.ts`, 'x', 'telemetry'],
    [`${root}node_modules/@opentelemetry/sdk-trace-base/build/src/Span.js`, 'end', 'telemetry'],
    ['node:internal/http2/core', 'write', 'Node.js'],
    ['', '(garbage collector)', 'GC'],
    ['', '(program)', 'native'],
    ['', 'writev', 'native'],
    ['', '(idle)', 'idle'],
    [`${root}node_modules/tsx/dist/loader.mjs`, 'load', 'other'],
    // A dependency's own services/ folder is the dependency's, not the project's.
    [`${root}node_modules/some-lib/services/x.js`, 'x', 'other'],
  ])('%s %s -> %s', (url, fn, expected) => {
    expect(categoryOf(url, fn, root)).toBe(expected);
  });

  it('reads the project\'s own folders from its root only (a checkout under a folder named clients/ or services/)', () => {
    expect(categoryOf(`${root}services/storage/LoggedEngine.ts`, 'write', 'file:///srv/clients/concord/')).toBe('other');
    expect(categoryOf('file:///srv/clients/concord/services/storage/LoggedEngine.ts', 'write', 'file:///srv/clients/concord/')).toBe('storage');
    expect(categoryOf('file:///srv/services/concord/services/rpc/kvService.ts', 'put', 'file:///srv/services/concord/')).toBe('rpc');
    // This checkout's own root by default.
    expect(categoryOf(`${repoRootUrl}services/node/DocumentStore.ts`, 'x')).toBe('documents');
  });
});

/** A profile of one sample per entry: [frame, delta before it in µs]; anchored so monotonic 0 is wall 1,000,000 ms. */
function profileOf(samples: readonly [url: string, fn: string, deltaUs: number][], anchored = true): CpuProfile {
  const frames = [...new Set(samples.map(([url, fn]) => `${url}|${fn}`))];
  return {
    nodes: frames.map((f, i) => ({ id: i + 1, callFrame: { url: f.split('|')[0] as string, functionName: f.split('|')[1] as string } })),
    startTime: 0,
    samples: samples.map(([url, fn]) => frames.indexOf(`${url}|${fn}`) + 1),
    timeDeltas: samples.map(([, , d]) => d),
    ...(anchored ? { wallAnchor: { wallMs: 1_000_000, monoUs: 0 } } : {}),
  };
}

const yjs = `${root}node_modules/yjs/dist/yjs.mjs`;
const store = `${root}services/node/DocumentStore.ts`;

describe('profileBreakdown', () => {
  it('counts busy, on-time samples inside the windows by category, and names the top own functions', () => {
    // Samples every 500 µs (wall 1,000,000.5 ms on); one late gap; idle ones.
    const p = profileOf([
      [yjs, 'applyUpdate', 500], // t=0.5 ms
      [yjs, 'applyUpdate', 500], // 1.0
      [store, 'persist', 500], // 1.5
      ['', '(idle)', 500], // 2.0: idle, left out
      [store, 'persist', 500], // 2.5: the next sample comes 5 ms late: left out
      [yjs, 'applyUpdate', 5_000], // 7.5
      ['', '(garbage collector)', 500], // 8.0
      [store, 'applyUpdate', 500], // 8.5: outside the window below
    ]);
    const b = profileBreakdown([p], [[1_000_000, 1_000_008]], 5, root);
    expect(b.samples).toBe(5);
    expect(b.late).toBe(1);
    expect(b.shares.Yjs).toBeCloseTo(3 / 5);
    expect(b.shares.documents).toBeCloseTo(1 / 5);
    expect(b.shares.GC).toBeCloseTo(1 / 5);
    expect(Object.values(b.shares).reduce((a, x) => a + x, 0)).toBeCloseTo(1);
    expect(b.ownTop).toEqual([{ fn: 'persist (services/node/DocumentStore.ts)', share: 1 / 5 }]);
  });

  it('takes the samples of every profile and every window, and none outside them', () => {
    const a = profileOf([[yjs, 'applyUpdate', 500], [yjs, 'applyUpdate', 500], [yjs, 'applyUpdate', 500]]);
    const b = profileOf([[store, 'persist', 500], [store, 'persist', 500], [store, 'persist', 500]]);
    // Windows around the first (0.5 ms) and the third (1.5 ms) sample only.
    const both = profileBreakdown([a, b], [[1_000_000.4, 1_000_000.6], [1_000_001.4, 1_000_001.6]], 5, root);
    expect(both.samples).toBe(4);
    expect(both.shares.Yjs).toBeCloseTo(0.5);
    expect(both.shares.documents).toBeCloseTo(0.5);
    expect(profileBreakdown([a, b], [[0, 999_999]]).samples).toBe(0);
    expect(profileBreakdown([a, b], []).samples).toBe(0);
  });

  it('leaves out a profile it cannot place in time (no anchor), and reports nothing as zero shares', () => {
    const b = profileBreakdown([profileOf([[yjs, 'applyUpdate', 500], [yjs, 'applyUpdate', 500]], false)], [[0, Number.MAX_SAFE_INTEGER]], 5, root);
    expect(b.samples).toBe(0);
    expect(b.shares.Yjs).toBe(0);
    expect(b.ownTop).toEqual([]);
  });
});

describe('the bench profiler (startCpuProfiler) and readNodeProfiles', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-profile-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('places a real profile in wall-clock time: samples of a busy stretch fall in its window, none before it', () => {
    const profiles = path.join(dir, 'profiles', 'cluster');
    fs.mkdirSync(profiles, { recursive: true });
    const script = path.join(dir, 'busy.ts');
    // Idle for 300 ms, then 400 ms of Yjs work; prints the busy stretch's wall-clock window.
    fs.writeFileSync(script, [
      `import '${path.resolve(__dirname, 'concord/startCpuProfiler.ts')}';`,
      `import * as Y from '${require.resolve('yjs')}';`,
      'setTimeout(() => {',
      '  const from = Date.now();',
      '  const doc = new Y.Doc();',
      '  for (let i = 0; Date.now() - from < 400; i++) { doc.getMap("m").set(`k${i % 100}`, i); Y.encodeStateAsUpdate(doc); }',
      '  console.log(JSON.stringify([from, Date.now()]));',
      '}, 300);',
    ].join('\n'));
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, '--id', 'n1'], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, CONCORD_BENCH_CPU_PROF_DIR: profiles },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toBe('');
    const [from, to] = JSON.parse(run.stdout) as [number, number];
    const read = readNodeProfiles(dir);
    expect(read).toHaveLength(1);
    const busy = profileBreakdown(read, [[from, to]]);
    expect(busy.samples).toBeGreaterThan(50);
    expect(busy.shares.Yjs).toBeGreaterThan(0.3);
    // The idle stretch before it holds no busy samples of the loop (start-up work ends first).
    expect(profileBreakdown(read, [[from - 250, from - 50]]).shares.Yjs).toBe(0);
    expect(profileBreakdown(read, [[0, started - 1]]).samples).toBe(0);
  }, 40_000);
});
