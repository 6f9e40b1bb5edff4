import * as fs from 'node:fs';
import { Session } from 'node:inspector';
import * as path from 'node:path';

// Side effect on import: starts the V8 sampling profiler in this process when
// CONCORD_BENCH_CPU_PROF_DIR is set, and writes <dir>/<node id>-<pid>.cpuprofile at exit (with
// a wall-clock anchor, see profileBreakdown).
// The in-process inspector session answers synchronously, which an 'exit' handler needs.

const dir = process.env.CONCORD_BENCH_CPU_PROF_DIR;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  // The profile's times are on the monotonic clock of process.hrtime; this pair places them in
  // wall-clock time, so the bench can take the samples of one workload's measured window.
  const wallAnchor = { wallMs: Date.now(), monoUs: Number(process.hrtime.bigint() / 1000n) };
  session.post('Profiler.start');
  const id = process.argv[process.argv.indexOf('--id') + 1] ?? 'node';
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (err === null) fs.writeFileSync(path.join(dir, `${id}-${process.pid}.cpuprofile`), JSON.stringify({ ...res.profile, wallAnchor }));
    });
  });
}
