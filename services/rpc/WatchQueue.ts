/**
 * How the RESOURCE_EXHAUSTED that ends a watch stream read too slowly begins: the client tells
 * it from a message over its receive limit (the watches may resume; an oversized one may not).
 */
export const readTooSlowlyPhrase = 'the client reads this watch stream too slowly';

/** The writable side of a watch stream, as WatchQueue needs it. */
export interface WatchSendSide<T> {
  write(message: T, done: () => void): boolean;
  readonly writableLength: number;
}

/**
 * Exempt answers a stream may have waiting on top of its bound: a watch's replay from history
 * (bounded by compaction) and answers to the client's own requests, several full histories' worth.
 */
export const exemptQueueMax = 100_000;

/**
 * The answers a watch stream has waiting to be sent, against its bound: past `max` live answers
 * (events as they happen) its client reads too slowly and the stream must end. Exempt answers
 * (a replay, answers to requests) do not count while they wait, up to `exemptQueueMax`: the
 * stream stops reading requests instead while more than `max` wait (see `full`), and `onRoom`
 * says when half the bound is free again.
 */
export class WatchQueue<T> {
  private exemptWaiting = 0;

  constructor(private readonly call: WatchSendSide<T>, private readonly max: number, private readonly onRoom?: () => void) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a watch queue bound is a positive integer, not ${max}`);
  }

  /** Writes an answer; true when live answers past the bound now wait (the stream must end). */
  write(message: T, exempt: boolean): boolean {
    const counted = exempt && this.exemptWaiting < exemptQueueMax;
    if (counted) this.exemptWaiting++;
    this.call.write(message, () => {
      if (counted) this.exemptWaiting--;
      if (this.onRoom !== undefined && this.call.writableLength <= this.max / 2) this.onRoom();
    });
    return this.call.writableLength - this.exemptWaiting > this.max;
  }

  /** More answers of any kind wait than the bound: stop taking requests that make more. */
  get full(): boolean {
    return this.call.writableLength > this.max;
  }

  /** Answers waiting to be sent. */
  get waiting(): number {
    return this.call.writableLength;
  }
}
