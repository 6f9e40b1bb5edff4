/**
 * The simulator's only clock: a queue of events ordered by (virtual tick, insertion order).
 * Nothing in a run reads real time. Between two events the queue lets every promise chain the
 * last event started run to completion (the real DocumentStore and AntiEntropy are async), so
 * the interleaving depends on the seed alone.
 */
export class EventQueue {
  private readonly events: SimEvent[] = [];
  private nextSeq = 0;
  private nowTicks = 0;
  /** Events run so far; a run that exceeds its budget is a liveness failure, not a hang. */
  executed = 0;

  get now(): number {
    return this.nowTicks;
  }

  get pending(): number {
    return this.events.length;
  }

  /** Queues `run` after `delayTicks`; the returned handle cancels it (e.g. a timeout). */
  schedule(delayTicks: number, run: () => void): { cancel(): void } {
    if (!Number.isInteger(delayTicks) || delayTicks < 0) throw new Error(`bad delay ${delayTicks}`);
    const ev: SimEvent = { at: this.nowTicks + delayTicks, seq: this.nextSeq++, run, cancelled: false };
    // Binary search for the insertion point keeps the array sorted; queues stay small (hundreds).
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.events[mid] as SimEvent;
      if (m.at < ev.at || (m.at === ev.at && m.seq < ev.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.events.splice(lo, 0, ev);
    return { cancel: () => void (ev.cancelled = true) };
  }

  /** Runs every event due at or before `untilTicks`, then sets the clock to it. */
  async runUntil(untilTicks: number, eventsMax: number): Promise<void> {
    while (this.events.length > 0 && (this.events[0] as SimEvent).at <= untilTicks) {
      await this.step(eventsMax);
    }
    this.nowTicks = Math.max(this.nowTicks, untilTicks);
  }

  /** Runs events while `busy()` holds and any are queued. */
  async runWhile(busy: () => boolean, eventsMax: number): Promise<void> {
    await settle();
    while (busy() && this.events.length > 0) await this.step(eventsMax);
  }

  private async step(eventsMax: number): Promise<void> {
    const ev = this.events.shift() as SimEvent;
    if (ev.cancelled) return;
    this.nowTicks = ev.at;
    if (++this.executed > eventsMax) throw new LivenessError(`more than ${eventsMax} events`);
    ev.run();
    await settle();
  }
}

interface SimEvent {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

export class LivenessError extends Error {
  override readonly name = 'LivenessError';
}

/**
 * Resolves after every queued microtask (and every microtask those queue) has run: Node drains
 * the whole microtask queue before it reaches the check phase where setImmediate fires. No I/O
 * or timer is pending in a run, so nothing else can interleave.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
