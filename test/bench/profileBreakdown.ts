import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './stats';

/** The parts of a V8 `.cpuprofile` (Profiler.stop) the breakdown reads. */
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string } }[];
  /** Microseconds on the monotonic clock of `process.hrtime`. */
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  /** Written by the bench's profiler (startCpuProfiler): the same instant on both clocks. */
  readonly wallAnchor?: { readonly wallMs: number; readonly monoUs: number };
}

/** Where a sample's innermost frame ran, in the order the report shows them. */
export const profileCategories = ['Yjs', 'GC', 'grpc-js', 'protobuf', 'storage', 'consensus', 'documents', 'rpc', 'telemetry', 'Node.js', 'native', 'other'] as const;
export type ProfileCategory = (typeof profileCategories)[number];

/** A window of wall-clock time (ms since the epoch), both ends included. */
export type Window = readonly [fromMs: number, toMs: number];

export interface ProfileBreakdown {
  /** Samples counted: busy (not idle) and followed on time (see profileBreakdown). */
  readonly samples: number;
  /** Busy samples inside the windows left out because the next one came late. */
  readonly late: number;
  /** Share of those samples per category (0..1); every category is present. */
  readonly shares: Record<ProfileCategory, number>;
  /** The project's own functions with the most samples: "name (path)" and share. */
  readonly ownTop: readonly { readonly fn: string; readonly share: number }[];
}

/** The project's root as the profiles name its scripts (file:///.../), this checkout's. */
export const repoRootUrl = `${pathToFileURL(path.resolve(__dirname, '..', '..')).href}/`;

/** The category of one frame, by its script's URL (or, for V8's pseudo-frames, its name). */
export function categoryOf(url: string, functionName: string, root = repoRootUrl): ProfileCategory | 'idle' {
  if (url === '') {
    if (functionName === '(idle)') return 'idle';
    return functionName === '(garbage collector)' ? 'GC' : 'native';
  }
  if (url.startsWith('node:')) return 'Node.js';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg !== undefined) {
    if (pkg === 'yjs' || pkg === 'lib0' || pkg === 'y-protocols') return 'Yjs';
    if (pkg.startsWith('@grpc/')) return 'grpc-js';
    if (pkg === '@bufbuild/protobuf' || pkg === 'protobufjs' || pkg === 'long') return 'protobuf';
    if (pkg === 'lmdb' || pkg === 'sorted-btree' || pkg === 'msgpackr') return 'storage';
    if (pkg.startsWith('@opentelemetry/')) return 'telemetry';
    return 'other';
  }
  const own = ownPath(url, root);
  if (own === undefined) return 'other';
  if (own.startsWith('proto/gen/')) return 'protobuf';
  if (own.startsWith('services/storage/')) return 'storage';
  if (own.startsWith('services/core/consensus/') || own.startsWith('services/core/kv/') || own.startsWith('services/node/authority/')) return 'consensus';
  if (own.startsWith('services/rpc/')) return 'rpc';
  if (own.startsWith('services/telemetry/')) return 'telemetry';
  if (own.startsWith('services/')) return 'documents';
  return 'other';
}

/** The path under `root` of one of the project's own scripts (services/, proto/, clients/), else undefined. */
function ownPath(url: string, root: string): string | undefined {
  if (!url.startsWith(root)) return undefined;
  const own = url.slice(root.length);
  return /^(?:services|proto|clients)\//.test(own) && !own.includes('node_modules/') ? own : undefined;
}

/**
 * Where the sampled main threads of some processes spent their time inside `windows` (all
 * the profiles together, each sample standing for one sampling interval of CPU). Idle samples
 * are left out, and so is a sample whose next one came late (more than 1.6 times the profile's
 * median interval): the gap after it was partly off the CPU (the process, or the profiler's
 * thread, preempted by the others on a busy machine), so how much CPU it stands for is unknown.
 * They are counted apart (`late`). A profile without a wall anchor cannot be placed in time and
 * is left out.
 */
export function profileBreakdown(profiles: readonly CpuProfile[], windows: readonly Window[], ownTopMax = 5, root = repoRootUrl): ProfileBreakdown {
  const counts = new Map<ProfileCategory, number>();
  const own = new Map<string, number>();
  let samples = 0;
  let late = 0;
  for (const p of profiles) {
    const d = decoded(p, root);
    for (let i = 0; i < d.wallMs.length; i++) {
      const c = d.categories[i];
      if (c === undefined) continue;
      const wall = d.wallMs[i] as number;
      if (!windows.some(([from, to]) => wall >= from && wall <= to)) continue;
      if (d.late[i] === 1) {
        late++;
        continue;
      }
      samples++;
      counts.set(c, (counts.get(c) ?? 0) + 1);
      const key = d.own[i];
      if (key !== undefined) own.set(key, (own.get(key) ?? 0) + 1);
    }
  }
  const share = (n: number): number => (samples === 0 ? 0 : n / samples);
  const shares = Object.fromEntries(profileCategories.map((c) => [c, share(counts.get(c) ?? 0)])) as Record<ProfileCategory, number>;
  const ownTop = [...own].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, ownTopMax).map(([fn, n]) => ({ fn, share: share(n) }));
  return { samples, late, shares, ownTop };
}

interface Decoded {
  /** The project root the classification was made for. */
  readonly root: string;
  readonly wallMs: Float64Array;
  /** Per sample: its category, or undefined when it does not count (idle, unknown node). */
  readonly categories: (ProfileCategory | undefined)[];
  /** Per sample: 1 when the next sample came late. */
  readonly late: Uint8Array;
  /** Per sample: "name (path)" when its frame is the project's own code. */
  readonly own: (string | undefined)[];
}

/** Each profile's samples placed in time and classified once, however many rows read it. */
const decodedProfiles = new WeakMap<CpuProfile, Decoded>();

function decoded(p: CpuProfile, root: string): Decoded {
  const cached = decodedProfiles.get(p);
  if (cached !== undefined && cached.root === root) return cached;
  const anchor = p.wallAnchor;
  const n = anchor === undefined ? 0 : p.samples.length;
  const d: Decoded = { root, wallMs: new Float64Array(n), categories: new Array<ProfileCategory | undefined>(n), late: new Uint8Array(n), own: new Array<string | undefined>(n) };
  if (anchor !== undefined) {
    const frames = new Map(p.nodes.map((node) => {
      const { url, functionName } = node.callFrame;
      const category = categoryOf(url, functionName, root);
      const own = ownPath(url, root);
      // No line: the nodes run TypeScript through tsx, whose line numbers are the transpiled file's.
      const ownFn = own === undefined || own.startsWith('proto/gen/') ? undefined : `${functionName || '(anonymous)'} (${own})`;
      return [node.id, { category, own: ownFn }];
    }));
    const late = 1.6 * median(p.timeDeltas);
    let t = p.startTime;
    for (let i = 0; i < n; i++) {
      t += p.timeDeltas[i] ?? 0;
      d.wallMs[i] = anchor.wallMs + (t - anchor.monoUs) / 1000;
      const next = p.timeDeltas[i + 1];
      const f = frames.get(p.samples[i] as number);
      if (f === undefined || f.category === 'idle') continue;
      d.categories[i] = f.category;
      d.own[i] = f.own;
      if (next !== undefined && next > late) d.late[i] = 1;
    }
  }
  decodedProfiles.set(p, d);
  return d;
}
