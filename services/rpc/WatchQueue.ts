/** The writable side of a watch stream, as WatchQueue needs it. */
export interface WatchSendSide<T> {
  write(message: T, done: () => void): boolean;
  readonly writableLength: number;
}

/**
 * Replayed answers a stream may have waiting on top of its bound: those written while a watch
 * catches up from history (bounded by compaction), several full histories' worth.
 */
export const replayQueueMax = 100_000;

/**
 * The answers a watch stream has waiting to be sent, against its bound: past `max` live answers
 * (or `replayQueueMax` replayed ones more) its client reads too slowly and the stream must end.
 * A replayed answer counts as replayed only while it waits; the stream's own answers (created,
 * refused) always count as live.
 */
export class WatchQueue<T> {
  private replayWaiting = 0;

  constructor(private readonly call: WatchSendSide<T>, private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a watch queue bound is a positive integer, not ${max}`);
  }

  /** Writes an answer; true when the stream now holds more than it may. */
  write(message: T, replay: boolean): boolean {
    const exempt = replay && this.replayWaiting < replayQueueMax;
    if (exempt) this.replayWaiting++;
    this.call.write(message, () => {
      if (exempt) this.replayWaiting--;
    });
    return this.call.writableLength - this.replayWaiting > this.max;
  }

  /** Answers waiting to be sent. */
  get waiting(): number {
    return this.call.writableLength;
  }
}
