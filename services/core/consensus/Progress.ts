// The leader's view of one follower's log, and the flow control that decides whether another
// AppendEntries may be sent to it now.
//
//   probe      we do not know where the follower's log matches ours: send one append per
//              heartbeat round and wait for its answer.
//   replicate  logs match up to `match`: stream appends optimistically, at most
//              maxInflightMsgs unacknowledged at a time.
//   snapshot   the entries it needs are compacted: a snapshot is on its way, send nothing
//              until it is acknowledged (or a timeout sends us back to probing).

import { assert } from './types';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded FIFO of the last index of each unacknowledged append. */
export class Inflights {
  private readonly lastIndexes: number[] = [];

  constructor(readonly maxInflightMsgs: number) {
    assert(maxInflightMsgs > 0, 'maxInflightMsgs must be positive');
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'cannot add to full inflights');
    this.lastIndexes.push(lastIndex);
  }

  /** Frees every append whose last index is ≤ index. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && (this.lastIndexes[n] ?? Infinity) <= index) n++;
    if (n > 0) this.lastIndexes.splice(0, n);
  }

  freeFirstOne(): void {
    this.lastIndexes.shift();
  }

  full(): boolean {
    return this.lastIndexes.length >= this.maxInflightMsgs;
  }

  count(): number {
    return this.lastIndexes.length;
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is out and we wait for its answer (or the next heartbeat). */
  probeSent = false;
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshotIndex = 0;
  /** Leader tick at which the pending snapshot was sent (for the resend timeout). */
  snapshotSentAtTick = 0;
  /** Leader tick at which we last heard from this member (CheckQuorum). */
  lastActiveTick = 0;
  /** Highest commit index sent to this follower (so we know when it is worth telling more). */
  sentCommit = 0;
  /** Leader tick of the last acknowledged progress (to detect a stalled replicate stream). */
  lastAdvanceTick = 0;
  readonly inflights: Inflights;

  constructor(next: number, maxInflightMsgs: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs);
  }

  becomeProbe(): void {
    // Coming back from a snapshot, assume it was applied: probing from just after it either
    // succeeds or is rejected with a hint, so nothing is lost by being optimistic.
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshotIndex + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState('replicate');
  }

  becomeSnapshot(snapshotIndex: number, nowTick: number): void {
    this.resetState('snapshot');
    this.pendingSnapshotIndex = snapshotIndex;
    this.snapshotSentAtTick = nowTick;
    this.next = snapshotIndex + 1;
  }

  /** A successful append response up to `index`. Returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejected append at prevIndex `rejected`; `matchHint` is the highest index that may still
   * match. Returns false if the rejection is stale (answers an append we no longer care about).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the follower may not know `committed` yet although it holds those entries. */
  canBumpCommit(committed: number): boolean {
    return this.sentCommit < Math.min(committed, this.next - 1);
  }

  /** Whether sending another append must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** Records that an append ending at lastIndex (or an empty one when null) was sent. */
  sentAppend(lastIndex: number | null): void {
    if (this.state === 'replicate') {
      if (lastIndex !== null) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else {
      assert(this.state === 'probe', 'appends are not sent while a snapshot is pending');
      this.probeSent = true;
    }
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.inflights.reset();
  }
}
