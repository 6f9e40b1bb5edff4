/** Periodic rounds run on every tick until the links have been healthy this long... */
export const calmAfterMs = 10_000;
/** ...and then on every this-many-th tick (rounds on a (re)connect always run). */
export const calmEveryTicks = 8;

/**
 * Which periodic ticks run anti-entropy rounds. While some link is unreachable or dropped
 * updates (a partition, a bridge node relaying between two sides, an overloaded peer), every
 * tick does: that is when rounds repair something. Once every link has been healthy for a while,
 * push replication with acks delivers everything and a round mostly re-sends what is in flight,
 * so only every `calmEvery`-th tick runs one, as a safety net.
 */
export class AntiEntropySchedule {
  private calmSince: number | undefined;
  private ticks = 0;

  constructor(
    private readonly calmAfter = calmAfterMs,
    private readonly calmEvery = calmEveryTicks,
  ) {}

  /** Called on each periodic tick with whether every link is healthy; true when this tick runs rounds. */
  tick(nowMs: number, healthy: boolean): boolean {
    this.ticks++;
    if (!healthy) {
      this.calmSince = undefined;
      return true;
    }
    this.calmSince ??= nowMs;
    return nowMs - this.calmSince < this.calmAfter || this.ticks % this.calmEvery === 0;
  }
}
