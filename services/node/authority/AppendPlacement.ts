/** Records up to this size may be written and synced on the event loop's thread. */
export const loopAppendBytesMax = 64 << 10;
/**
 * An append slower than this sends the next ones to the thread pool. A local disk here syncs a
 * small record in 0.1 to 0.3 ms; where it takes longer (network block storage, a busy disk),
 * each append on the loop would hold it that long to save the pool's 0.05 ms of hand-offs.
 */
export const loopAppendMsMax = 1;
/** Fast appends in a row before they may run on the loop again. */
export const fastAppendsToReturn = 32;

/**
 * Where a Raft log append that must be durable before anything else happens (a follower's
 * entries before its ack, a vote before its answer) runs: on the event loop's thread or on
 * libuv's thread pool.
 *
 * On the loop, the O_DSYNC write is one system call; on the pool it is two thread hand-offs
 * more, which a sequential put pays on its critical path (a follower's append; 45 to 55 µs each
 * here). But the loop does nothing else while the disk syncs, and this node serves documents
 * too: so the loop takes only small records, and only while appends are fast. An append that
 * took longer than `loopAppendMsMax` sends the next ones to the pool, until `fastAppendsToReturn`
 * in a row were fast: a disk that is sometimes slow stays on the pool, and each slow spell
 * holds the loop for one append at most (the first). Appends on the pool count too, a leader's
 * among them, timed until the loop takes their completion: a busy loop reads as a slow disk,
 * which only keeps the appends on the pool. Records too large for the loop and appends that
 * start a new segment (a file to create and sync) are not counted.
 */
export class AppendPlacement {
  /** Fast appends in a row since the last slow one (`toReturn` and more: on the loop). */
  private fastInARow: number;

  constructor(
    private readonly bytesMax = loopAppendBytesMax,
    private readonly msMax = loopAppendMsMax,
    private readonly toReturn = fastAppendsToReturn,
  ) {
    this.fastInARow = toReturn;
  }

  /** Whether a record of about `bytes` is small enough for the loop (and its time counts). */
  fits(bytes: number): boolean {
    return bytes <= this.bytesMax;
  }

  /** Whether an append of about `bytes` that the caller waits for may run on the loop now. */
  onLoop(bytes: number): boolean {
    return this.fastInARow >= this.toReturn && this.fits(bytes);
  }

  /** An append of a record that fits (on the loop or the pool) took `ms`. */
  took(ms: number): void {
    this.fastInARow = ms <= this.msMax ? this.fastInARow + 1 : 0;
  }
}
