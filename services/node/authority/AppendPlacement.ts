/** Records up to this size may be written on the event loop's thread (as the documents' log does). */
export const loopAppendBytesMax = 64 << 10;
/** An append slower than this (a busy or slow disk) sends the next ones to the thread pool. */
export const loopAppendMsMax = 2;
/** Fast appends in a row on the thread pool before they may run on the loop again. */
export const fastAppendsToReturn = 32;

/**
 * Where a Raft log append that must be durable before anything else happens (a follower's
 * entries before its ack, a vote before its answer) runs: on the event loop's thread or on
 * libuv's thread pool.
 *
 * On the loop, the O_DSYNC write is one system call; on the pool it is two thread hand-offs
 * more, which a sequential put pays on its critical path (a follower's append; 45 to 55 µs each
 * here). But the loop does nothing else while the disk syncs, and this node serves documents
 * too: so the loop takes only small records, and only while the disk is fast. An append that
 * took longer than `loopAppendMsMax` (wherever it ran; a pool append's time includes its
 * hand-offs) sends the next ones to the pool, until `fastAppendsToReturn` in a row there were
 * fast: a disk that is sometimes slow stays on the pool. A leader's appends always go to the
 * pool: its messages to the followers leave while its disk syncs (see AuthorityNode.handle).
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

  /** Whether an append of about `bytes` that the caller waits for may run on the loop now. */
  onLoop(bytes: number): boolean {
    return this.fastInARow >= this.toReturn && bytes <= this.bytesMax;
  }

  /** An append (on the loop or the pool) took `ms`. */
  took(ms: number): void {
    this.fastInARow = ms <= this.msMax ? this.fastInARow + 1 : 0;
  }
}
