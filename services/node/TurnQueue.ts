/** Which steps go first: answers to peers, then work on what this node fetched. */
export type TurnPriority = 'answer' | 'apply';

/**
 * Runs heavy synchronous steps one at a time, each after pending I/O had its chance (the
 * injected `yieldToIo`: a node passes a full event-loop turn). Answers to peers go before
 * applies of what this node fetched: a peer waiting for our answer can do nothing else, while
 * a fetched diff waits in memory. In a heal every node pulls from the others at once, and an
 * answer queued behind an apply held the asking peer's whole round for that long.
 * Steps of one priority run in the order they were queued.
 */
export class TurnQueue {
  private readonly answers: (() => void)[] = [];
  private readonly applies: (() => void)[] = [];
  private draining = false;

  constructor(private readonly yieldToIo: () => Promise<void>) {}

  /** Queues `step`; resolves with its result (rejects with what it threw) once it ran. */
  run<T>(step: () => T, priority: TurnPriority): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      (priority === 'answer' ? this.answers : this.applies).push(() => {
        try {
          resolve(step());
        } catch (err) {
          reject(err);
        }
      });
      if (!this.draining) void this.drain();
    });
  }

  /** Steps queued and not yet run. */
  get queued(): number {
    return this.answers.length + this.applies.length;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      // Steps are only ever added meanwhile: one waits after every yield.
      while (this.queued > 0) {
        try {
          await this.yieldToIo();
        } catch {
          // A failed yield costs the step its wait, not its run.
        }
        (this.answers.shift() ?? (this.applies.shift() as () => void))();
      }
    } finally {
      this.draining = false;
    }
  }
}
