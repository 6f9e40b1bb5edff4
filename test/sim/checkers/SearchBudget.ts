// A step and wall-clock budget shared by every partition of one check. Steps are deterministic
// (good for replaying a seed); the clock bounds real time and is read only every 1024 steps.

export type BudgetLimit = 'steps' | 'time';

export class SearchBudget {
  private stepsValue = 0;
  private exhaustedBy: BudgetLimit | null = null;
  private readonly startedMs: number;

  constructor(
    private readonly maxSteps: number,
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {
    this.startedMs = now();
  }

  get steps(): number {
    return this.stepsValue;
  }

  get elapsedMs(): number {
    return this.now() - this.startedMs;
  }

  get exhausted(): BudgetLimit | null {
    return this.exhaustedBy;
  }

  /** Spends one search step; false once the budget is exhausted (and from then on). */
  spend(): boolean {
    if (this.exhaustedBy !== null) return false;
    if (this.stepsValue >= this.maxSteps) this.exhaustedBy = 'steps';
    else if ((this.stepsValue & 1023) === 1023 && this.elapsedMs > this.timeoutMs) this.exhaustedBy = 'time';
    else this.stepsValue++;
    return this.exhaustedBy === null;
  }
}
