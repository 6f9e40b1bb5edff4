import { BenchOptions } from './BenchOptions';
import { Measurement, Variant } from './Measurement';
import { Progress } from './Progress';
import { ReferenceAvailability } from './references/ensureReferences';
import { medianMetrics } from './stats';

/** What every scenario gets: options, progress, reference availability, and the result sink. */
export class BenchContext {
  readonly measurements: Measurement[] = [];
  readonly notes: string[] = [];
  readonly versions: Record<string, string> = {};

  constructor(
    readonly options: BenchOptions,
    readonly progress: Progress,
    readonly refs: ReferenceAvailability,
    /** Folder of this run's results (profiles go there too). */
    readonly runDir: string,
  ) {}

  log(line: string): void {
    this.progress.log(line);
  }

  note(line: string): void {
    this.notes.push(line);
    this.log(line);
  }

  /** Notes the first error of each distinct message for `what` (errors are counted per round). */
  errorNote(what: string): (err: unknown) => void {
    const seen = new Set<string>();
    return (err) => {
      const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
      const kind = msg.replace(/\d+/g, '#');
      if (seen.has(kind) || seen.size >= 3) return;
      seen.add(kind);
      this.note(`${what}: error: ${msg}`);
    };
  }

  add(m: Measurement): void {
    this.measurements.push(m);
  }

  /**
   * Runs the variants for `rounds` rounds, alternating them within each round and rotating
   * which goes first, so slow drift of this shared machine hits every system alike. Each round
   * of each variant is one progress step; the rows carry per-round numbers and medians. The
   * variants that warm up do so first, one after the other, and nothing of it is counted.
   */
  async alternate(scenario: string, variants: readonly Variant[], rounds = this.options.rounds): Promise<Measurement[]> {
    const perVariant = variants.map(() => [] as Record<string, number>[]);
    const failures = variants.map(() => undefined as string | undefined);
    for (const v of variants) {
      if (v.warmUp === undefined || v.skipped !== undefined) continue;
      this.progress.status(`${scenario}: warming up ${v.system} ${v.workload} x${v.clients}`);
      // A failure here shows again (and is reported) in the measured rounds.
      await v.warmUp().catch((err: unknown) => this.log(`${scenario} ${v.system} ${v.workload}: warm-up failed: ${(err as Error).message.split('\n')[0]}`));
    }
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < variants.length; k++) {
        const i = (k + r) % variants.length;
        const v = variants[i] as (typeof variants)[number];
        this.progress.step(`${scenario}: ${v.system} ${v.workload} x${v.clients} (round ${r + 1}/${rounds})`);
        if (v.skipped !== undefined || failures[i] !== undefined) continue;
        try {
          perVariant[i]?.push(await v.run());
        } catch (err) {
          failures[i] = `failed: ${(err as Error).message.split('\n')[0]}`;
          this.log(`${scenario} ${v.system} ${v.workload}: ${failures[i]}`);
        }
      }
    }
    const rows = variants.map((v, i): Measurement => ({
      scenario,
      system: v.system,
      workload: v.workload,
      clients: v.clients,
      rounds: perVariant[i] ?? [],
      median: medianMetrics(perVariant[i] ?? []),
      ...(v.skipped ?? failures[i] ? { skipped: v.skipped ?? failures[i] } : {}),
      ...(v.note === undefined ? {} : { note: v.note }),
    }));
    rows.forEach((m) => this.add(m));
    return rows;
  }

  /** Planned steps of `alternate` for progress accounting. */
  static alternateSteps(variants: number, rounds: number): number {
    return variants * rounds;
  }
}
