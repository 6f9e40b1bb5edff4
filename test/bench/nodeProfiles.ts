import * as fs from 'node:fs';
import * as path from 'node:path';
import { Measurement } from './Measurement';
import { CpuProfile, ProfileBreakdown, profileBreakdown } from './profileBreakdown';
import { windowsOf } from './stats';

/** One Concord row of a `--profile` run (one whose rounds recorded their windows) with where its nodes' sampled CPU went. */
export interface ProfiledRow {
  readonly scenario: string;
  readonly workload: string;
  readonly clients: number;
  readonly breakdown: ProfileBreakdown;
}

/** Every node profile a `--profile` run wrote under `<runDir>/profiles/<cluster>/` (read once the nodes exited). */
export function readNodeProfiles(runDir: string): CpuProfile[] {
  const root = path.join(runDir, 'profiles');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => fs.readdirSync(path.join(root, d.name)).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(root, d.name, f)))
    .map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as CpuProfile);
}

/**
 * Each Concord row whose rounds recorded their measured windows, with the breakdown of the
 * node samples taken inside them. Samples are chosen by time alone: one row runs at a time, so
 * what else a profile holds then is other clusters' idle time and background timers.
 */
export function profiledRows(measurements: readonly Measurement[], profiles: readonly CpuProfile[]): ProfiledRow[] {
  if (profiles.length === 0) return [];
  return measurements
    .filter((m) => m.system === 'concord' && m.skipped === undefined)
    .map((m) => ({ scenario: m.scenario, workload: m.workload, clients: m.clients, breakdown: profileBreakdown(profiles, windowsOf(m.rounds)) }))
    .filter((r) => r.breakdown.samples > 0);
}
