// The face of the consensus core for the shell (services/node's ready loop, tests, simulator).
// Inputs: tick(), step(message), propose(), proposeConfChange(), readIndex(), transferLeader().
// Output: ready() hands over everything the shell must do, in this order:
//
//   1. persist, atomically if possible and in this order: ready.snapshot (if any), then
//      ready.entries (replacing any stored entries from the first new index on), then
//      ready.hardState (if any). Fsync. (Votes and appends are promises to peers; they must be
//      durable before any message that relies on them leaves.)
//   2. send ready.messages (after step 1, never before).
//   3. apply: if ready.snapshot is set, restore the state machine from it first; then apply
//      ready.committedEntries in order. Serve ready.readStates once applied ≥ their index.
//   4. call advance(ready).
//
// A leader may do two things earlier (Raft thesis §10.2.1): send its appends while it persists
// them (it counts itself in the commit quorum at once, but nothing of this Ready is applied or
// announced before its persist completes), and apply the committed entries its earlier Readies
// persisted while this one's persist runs.
//
// Exactly one Ready may be outstanding: call advance() before the next ready(). Steps and
// ticks between ready() and advance() are allowed (their output goes into the next Ready).

import type { ConfChange } from './clusterConfig';
import {
  Raft,
  type ConfChangeResult,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type ReadIndexResult,
  type TransferResult,
} from './Raft';
import {
  assert,
  hardStateEqual,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from './types';

export interface Ready {
  /** Leader, role and term now (always present; compare to show changes). */
  readonly softState: SoftState;
  /** Set when term, vote or commit changed since the last persisted hard state. */
  readonly hardState?: HardState;
  /** Entries to persist. */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader to persist and restore the state machine from. */
  readonly snapshot?: Snapshot;
  /** Entries to apply, in order; they may include some of `entries` (persist those first). */
  readonly committedEntries: readonly Entry[];
  /** Messages to send once the above is durable. */
  readonly messages: readonly Message[];
  /** Answers to readIndex() calls. */
  readonly readStates: readonly ReadState[];
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = config.storage.initialState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now instead of waiting for the election timeout. */
  campaign(): void {
    this.raft.campaignNow();
  }

  /** Feeds a message from a peer. Messages addressed to another node are a programmer error. */
  step(m: Message): void {
    this.raft.step(m);
  }

  /**
   * Proposes application entries as one batch. On the leader they are appended and replicated;
   * elsewhere the call is refused with the leader to redirect to (the core never forwards).
   */
  propose(data: readonly Uint8Array[]): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfChange(change: ConfChange): ConfChangeResult {
    return this.raft.proposeConfChange(change);
  }

  /** See Raft.readIndex: the answer arrives as a ReadState with the same context. */
  readIndex(context: string): ReadIndexResult {
    return this.raft.readIndex(context);
  }

  transferLeader(to: NodeId): TransferResult {
    return this.raft.transferLeader(to);
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  /** Leader, role and term: what status() says first, without building the progress report. */
  softState(): SoftState {
    return this.raft.softState();
  }

  /** See RaftConfig.deferCommitNotice: a follower does not know of a commit it could hear now. */
  commitNoticeOwed(): boolean {
    return this.raft.commitNoticeOwed();
  }

  /** See RaftConfig.deferCommitNotice: tells followers of the commit (the messages come in the next Ready). */
  sendCommitNotices(): void {
    this.raft.sendCommitNotices();
  }

  hasReady(): boolean {
    const log = this.raft.log;
    return (
      !softStateEqual(this.raft.softState(), this.prevSoftState) ||
      !hardStateEqual(this.raft.hardState(), this.prevHardState) ||
      log.unstableEntries().length > 0 ||
      log.unstableSnapshot() !== null ||
      log.hasNextCommittedEntries() ||
      this.raft.hasPendingOutput()
    );
  }

  /** Takes the pending work; see the file header for what to do with it. */
  ready(): Ready {
    assert(this.outstanding === null, 'advance() the previous Ready before asking for another');
    const log = this.raft.log;
    const hs = this.raft.hardState();
    const snapshot = log.unstableSnapshot();
    const rd: Ready = {
      softState: this.raft.softState(),
      ...(hardStateEqual(hs, this.prevHardState) ? {} : { hardState: hs }),
      entries: [...log.unstableEntries()],
      ...(snapshot === null ? {} : { snapshot }),
      committedEntries: log.nextCommittedEntries(this.raft.maxCommittedSizePerReadyBytes),
      messages: this.raft.takeMessages(),
      readStates: this.raft.takeReadStates(),
    };
    this.outstanding = rd;
    return rd;
  }

  /** The shell has persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() takes the Ready returned by the last ready()');
    this.outstanding = null;
    const log = this.raft.log;
    this.prevSoftState = rd.softState;
    if (rd.hardState !== undefined) this.prevHardState = rd.hardState;
    if (rd.snapshot !== undefined) {
      log.stableSnapTo(rd.snapshot.index);
      log.appliedTo(rd.snapshot.index);
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined) {
      log.appliedTo(lastApplied.index);
      this.raft.reduceUncommittedSize(rd.committedEntries);
    }
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role && a.term === b.term;
}
