// The Raft state machine (Ongaro & Ousterhout, "In Search of an Understandable Consensus
// Algorithm", and Ongaro's thesis for PreVote, CheckQuorum, ReadIndex, leader transfer and
// single-server membership changes). One transition function for messages (step) and one for
// time (tick); each role installs its own step and tick functions. No I/O: messages, entries
// to persist and entries to apply accumulate here and leave through RawNode.ready().

import {
  applyConfChange,
  encodeClusterConfig,
  isVoter,
  membersOf,
  type ConfChange,
} from './clusterConfig';
import { Progress, type ProgressState } from './Progress';
import { committedIndex, hasQuorum, voteResult } from './quorum';
import { RaftLog } from './RaftLog';
import { ReadOnly } from './ReadOnly';
import type { RaftStorage } from './RaftStorage';
import {
  assert,
  entryBytes,
  type ClusterConfig,
  type Entry,
  type EntryProposal,
  type HardState,
  type Message,
  type MsgApp,
  type MsgAppResp,
  type MsgHeartbeat,
  type MsgHeartbeatResp,
  type MsgSnap,
  type MsgPreVoteResp,
  type MsgVoteResp,
  type NodeId,
  type OutgoingMessage,
  type ReadState,
  type Role,
  type SoftState,
} from './types';

export interface RaftConfig {
  readonly id: NodeId;
  /** What is durable. The core reads it; the shell writes it from Ready. */
  readonly storage: RaftStorage;
  /** Uniform in [0, 1); drives the randomized election timeout. Inject a seeded PRNG in tests. */
  readonly rand: () => number;
  /** Followers campaign after electionTimeoutTicks..2*electionTimeoutTicks-1 silent ticks. */
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** Last index the application has applied (restart); defaults to the compaction point. */
  readonly appliedIndex?: number;
  /** PreVote (thesis §9.6): a node that cannot win does not bump terms and disrupt others. */
  readonly preVote?: boolean;
  /** CheckQuorum (thesis §6.2): a leader that has not heard from a quorum steps down. */
  readonly checkQuorum?: boolean;
  readonly maxSizePerMsgBytes?: number;
  readonly maxInflightMsgs?: number;
  /** Proposals are refused with `overloaded` while this much proposed data is uncommitted. */
  readonly maxUncommittedEntriesBytes?: number;
  readonly maxCommittedSizePerReadyBytes?: number;
  readonly maxPendingReadRequests?: number;
  readonly maxEntriesPerProposal?: number;
  /**
   * When a commit advances, etcd's leader tells every follower at once, with an empty append
   * if it has no entries for it, and each follower answers it. Deferred, the leader sends only
   * appends that carry entries (the commit index rides along); followers otherwise learn the
   * commit from the next append, a heartbeat, or `sendCommitNotices()`, which the shell calls
   * a little later (see `commitNoticeOwed`). It saves two messages per follower on every
   * commit that no further entry follows, as under sequential writes; followers apply a bit
   * later. Committing, and answering the client on the leader, do not wait for it.
   */
  readonly deferCommitNotice?: boolean;
}

export const raftDefaults = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxSizePerMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedEntriesBytes: 64 * 1024 * 1024,
  maxCommittedSizePerReadyBytes: 64 * 1024 * 1024,
  maxPendingReadRequests: 4096,
  maxEntriesPerProposal: 10_000,
} as const;

export type NotLeader = { readonly ok: false; readonly reason: 'not-leader'; readonly leader: NodeId | null };

export type ProposeResult =
  | { readonly ok: true; readonly firstIndex: number; readonly lastIndex: number; readonly term: number }
  | NotLeader
  | { readonly ok: false; readonly reason: 'transfer-in-progress' | 'overloaded' };

export type ConfChangeResult =
  | ProposeResult
  | {
      readonly ok: false;
      readonly reason: 'config-change-pending' | 'no-change' | 'last-voter' | 'cannot-remove-leader' | 'learner-behind';
    };

export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'no-leader' | 'overloaded' };

export type TransferResult = { readonly ok: true } | NotLeader | { readonly ok: false; readonly reason: 'not-a-voter' };

export interface ProgressStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflightMsgs: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly role: Role;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly config: ClusterConfig;
  readonly leadTransferee: NodeId | null;
  /** Per-member replication state; only on the leader. */
  readonly progress: readonly ProgressStatus[] | null;
}

export class Raft {
  readonly id: NodeId;
  readonly log: RaftLog;
  term = 0;
  vote: NodeId | null = null;
  lead: NodeId | null = null;
  role: Role = 'follower';

  private readonly rand: () => number;
  private readonly electionTimeoutTicks: number;
  private readonly heartbeatIntervalTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxSizePerMsgBytes: number;
  private readonly maxInflightMsgs: number;
  private readonly maxUncommittedEntriesBytes: number;
  readonly maxCommittedSizePerReadyBytes: number;
  private readonly maxEntriesPerProposal: number;
  private readonly deferCommitNotice: boolean;
  /** A replicating follower whose match has not moved for this long is probed again. */
  private readonly replicateStallTicks: number;

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since this node became leader; the leader's clock for per-follower timeouts. */
  private leaderTicks = 0;
  private leadTransferee: NodeId | null = null;
  /** Index of the newest config entry that may be uncommitted (leader only). */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private readonly readOnly: ReadOnly;
  /** Reads that arrived before this leader committed an entry in its term. */
  private pendingReadIndex: { from: NodeId; context: string }[] = [];
  private knownConfig: ClusterConfig;

  private stepFn: (m: Message) => void = (m) => this.stepFollower(m);
  private tickFn: () => void = () => this.tickElection();

  constructor(config: RaftConfig) {
    this.id = config.id;
    this.rand = config.rand;
    this.electionTimeoutTicks = config.electionTimeoutTicks ?? raftDefaults.electionTimeoutTicks;
    this.heartbeatIntervalTicks = config.heartbeatIntervalTicks ?? raftDefaults.heartbeatIntervalTicks;
    assert(this.heartbeatIntervalTicks > 0, 'heartbeatIntervalTicks must be positive');
    assert(this.electionTimeoutTicks > this.heartbeatIntervalTicks, 'election timeout must exceed heartbeat interval');
    this.preVote = config.preVote ?? raftDefaults.preVote;
    this.checkQuorum = config.checkQuorum ?? raftDefaults.checkQuorum;
    this.maxSizePerMsgBytes = config.maxSizePerMsgBytes ?? raftDefaults.maxSizePerMsgBytes;
    this.maxInflightMsgs = config.maxInflightMsgs ?? raftDefaults.maxInflightMsgs;
    this.maxUncommittedEntriesBytes = config.maxUncommittedEntriesBytes ?? raftDefaults.maxUncommittedEntriesBytes;
    this.maxCommittedSizePerReadyBytes =
      config.maxCommittedSizePerReadyBytes ?? raftDefaults.maxCommittedSizePerReadyBytes;
    this.maxEntriesPerProposal = config.maxEntriesPerProposal ?? raftDefaults.maxEntriesPerProposal;
    this.deferCommitNotice = config.deferCommitNotice ?? false;
    this.replicateStallTicks = Math.max(2 * this.heartbeatIntervalTicks, Math.ceil(this.electionTimeoutTicks / 2));
    this.readOnly = new ReadOnly(config.maxPendingReadRequests ?? raftDefaults.maxPendingReadRequests);

    this.log = new RaftLog(config.storage);
    const hs = config.storage.initialState();
    this.log.commitTo(hs.commit);
    if (config.appliedIndex !== undefined) this.log.appliedTo(config.appliedIndex);
    this.term = hs.term;
    this.vote = hs.vote;
    this.knownConfig = this.log.config();
    this.becomeFollower(this.term, null);
  }

  // --- inputs -------------------------------------------------------------------------------

  /** Advances logical time by one tick. */
  tick(): void {
    this.tickFn();
  }

  /** Starts an election now (PreVote first when enabled), as if the timeout had fired. */
  campaignNow(): void {
    this.hup(false);
  }

  /** Feeds one message from a peer. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        const transfer = m.type === 'vote' && m.transfer;
        const inLease =
          this.checkQuorum && this.lead !== null && this.electionElapsed < this.electionTimeoutTicks;
        // Within the lease we heard from a live leader, so this candidate is disruptive (for
        // example a removed or partitioned node): ignore it without touching our term.
        if (!transfer && inLease) return;
      }
      if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && !m.reject)) {
        // A pre-vote is hypothetical; the candidate bumps its term only once it wins.
      } else {
        const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (back from a partition) learns our term from the answer and steps
        // down; without this, PreVote/CheckQuorum could leave it stranded forever.
        this.send({ type: 'heartbeat-resp', to: m.from, readContext: null });
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', to: m.from, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'pre-vote') {
      const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
      const canVote =
        this.vote === m.from ||
        (this.vote === null && this.lead === null) ||
        (m.type === 'pre-vote' && m.term > this.term);
      if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
        // §5.2, §5.4.1: at most one vote per term, only for a log at least as up to date.
        this.send({ type: respType, to: m.from, term: m.term, reject: false });
        if (m.type === 'vote') {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send({ type: respType, to: m.from, reject: true });
      }
      return;
    }
    this.stepFn(m);
  }

  /** Appends application entries (leader only). The whole batch is accepted or refused. */
  propose(data: readonly Uint8Array[]): ProposeResult {
    assert(data.length > 0, 'propose needs at least one entry');
    assert(data.length <= this.maxEntriesPerProposal, `at most ${this.maxEntriesPerProposal} entries per proposal`);
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    let bytes = 0;
    for (const d of data) bytes += d.byteLength;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.maxUncommittedEntriesBytes) {
      return { ok: false, reason: 'overloaded' };
    }
    this.uncommittedBytes += bytes;
    const first = this.log.lastIndex() + 1;
    this.appendEntries(data.map((d) => ({ kind: 'normal', data: d })));
    this.bcastAppend();
    return { ok: true, firstIndex: first, lastIndex: this.log.lastIndex(), term: this.term };
  }

  /** Proposes one membership change (leader only); at most one may be uncommitted. */
  proposeConfChange(change: ConfChange): ConfChangeResult {
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    if (this.pendingConfIndex > this.log.committed) return { ok: false, reason: 'config-change-pending' };
    if (change.type === 'remove' && change.node === this.id) return { ok: false, reason: 'cannot-remove-leader' };
    const current = this.log.config();
    if (change.type === 'add-voter' && current.learners.includes(change.node)) {
      // A learner is promoted only once it holds everything committed so far, so adding it
      // does not leave the new majority waiting on a member that is far behind.
      const pr = this.progress.get(change.node);
      if (pr === undefined || pr.match < this.log.committed) return { ok: false, reason: 'learner-behind' };
    }
    const next = applyConfChange(current, change);
    if (!next.ok) return next;
    const first = this.log.lastIndex() + 1;
    this.appendEntries([{ kind: 'config', data: encodeClusterConfig(next.config) }]);
    this.pendingConfIndex = first;
    this.bcastAppend();
    return { ok: true, firstIndex: first, lastIndex: first, term: this.term };
  }

  /**
   * Asks for a linearizable read point. The answer arrives later as a ReadState carrying
   * `context`; if leadership changes first it may never arrive, so callers retry after a
   * deadline with a fresh context.
   */
  readIndex(context: string): ReadIndexResult {
    if (this.role === 'leader') {
      if (this.readOnly.full() || this.pendingReadIndex.length >= this.readOnly.maxPendingReadRequests) {
        return { ok: false, reason: 'overloaded' };
      }
      this.handleReadIndexRequest(this.id, context);
      return { ok: true };
    }
    if (this.lead === null) return { ok: false, reason: 'no-leader' };
    this.send({ type: 'read-index', to: this.lead, context });
    return { ok: true };
  }

  /** Hands leadership to `to` once it is caught up (thesis §3.10). */
  transferLeader(to: NodeId): TransferResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.lead };
    if (to === this.id || to === this.leadTransferee) return { ok: true };
    if (!isVoter(this.log.config(), to)) return { ok: false, reason: 'not-a-voter' };
    this.leadTransferee = to;
    // The transfer is abandoned if it has not happened within one election timeout.
    this.electionElapsed = 0;
    const pr = this.progress.get(to);
    if (pr !== undefined && pr.match === this.log.lastIndex()) this.send({ type: 'timeout-now', to });
    else this.sendAppend(to);
    return { ok: true };
  }

  /** The application applied these entries; their bytes no longer count as uncommitted. */
  reduceUncommittedSize(applied: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    let bytes = 0;
    for (const e of applied) if (e.kind === 'normal') bytes += entryBytes(e);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  // --- outputs ------------------------------------------------------------------------------

  softState(): SoftState {
    return { leader: this.lead, role: this.role, term: this.term };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  hasPendingOutput(): boolean {
    return this.msgs.length > 0 || this.readStates.length > 0;
  }

  takeMessages(): Message[] {
    const out = this.msgs;
    this.msgs = [];
    return out;
  }

  takeReadStates(): ReadState[] {
    const out = this.readStates;
    this.readStates = [];
    return out;
  }

  status(): RaftStatus {
    let progress: ProgressStatus[] | null = null;
    if (this.role === 'leader') {
      progress = [...this.progress.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([id, pr]) => ({
          id,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: this.recentlyActive(id),
          inflightMsgs: pr.inflights.count(),
        }));
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      role: this.role,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      config: this.log.config(),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  // --- role transitions ---------------------------------------------------------------------

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
    this.stepFn = (m) => this.stepFollower(m);
    this.tickFn = () => this.tickElection();
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not pre-campaign');
    // Term and vote stay as they are: a pre-campaign changes nothing durable.
    this.votes = new Map();
    this.lead = null;
    this.role = 'pre-candidate';
    this.stepFn = (m) => this.stepCandidate(m);
    this.tickFn = () => this.tickElection();
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.stepFn = (m) => this.stepCandidate(m);
    this.tickFn = () => this.tickElection();
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.stepFn = (m) => this.stepLeader(m);
    this.tickFn = () => this.tickHeartbeat();
    this.progress.get(this.id)?.becomeReplicate();
    // §5.4.2: entries from earlier terms are committed only indirectly, by committing an
    // entry of our own term; the noop gets us one at once. Until it commits we also refuse
    // membership changes (the single-server change fix from the thesis errata).
    this.pendingConfIndex = this.log.lastIndex() + 1;
    this.appendEntries([{ kind: 'noop', data: new Uint8Array() }]);
    this.bcastAppend();
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.leaderTicks = 0;
    this.randomizedElectionTimeout = this.electionTimeoutTicks + Math.floor(this.randomUnit() * this.electionTimeoutTicks);
    this.leadTransferee = null;
    this.votes = new Map();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.reset();
    this.pendingReadIndex = [];
    this.progress = new Map();
    const config = this.log.config();
    for (const id of membersOf(config)) this.addProgress(id, !isVoter(config, id));
  }

  private addProgress(id: NodeId, isLearner: boolean): void {
    const last = this.log.lastIndex();
    const pr = new Progress(last + 1, this.maxInflightMsgs, isLearner);
    if (id === this.id) pr.match = last;
    pr.lastAdvanceTick = this.leaderTicks;
    pr.lastActiveTick = this.leaderTicks;
    this.progress.set(id, pr);
  }

  private randomUnit(): number {
    const r = this.rand();
    assert(r >= 0 && r < 1, `rand() must return a number in [0, 1), got ${r}`);
    return r;
  }

  // --- time ---------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    this.leaderTicks++;
    // Step down as soon as a quorum has been silent for a whole election timeout: by then the
    // others may be electing a new leader, and proposals here could never commit.
    if (this.checkQuorum && !hasQuorum(this.log.config().voters, (id) => this.recentlyActive(id))) {
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.electionElapsed >= this.electionTimeoutTicks) {
      this.electionElapsed = 0;
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  // --- elections ----------------------------------------------------------------------------

  private recentlyActive(id: NodeId): boolean {
    if (id === this.id) return true;
    const pr = this.progress.get(id);
    return pr !== undefined && this.leaderTicks - pr.lastActiveTick < this.electionTimeoutTicks;
  }

  private promotable(): boolean {
    return isVoter(this.log.config(), this.id);
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (this.preVote && !transfer) this.campaign('pre-vote');
    else this.campaign(transfer ? 'transfer' : 'election');
  }

  private campaign(kind: 'pre-vote' | 'election' | 'transfer'): void {
    let voteTerm: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (voteResult(this.log.config().voters, this.votes) === 'won') {
      // A single-voter cluster wins outright.
      if (kind === 'pre-vote') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.log.config().voters) {
      if (id === this.id) continue;
      if (kind === 'pre-vote') this.send({ type: 'pre-vote', to: id, term: voteTerm, lastLogIndex, lastLogTerm });
      else this.send({ type: 'vote', to: id, term: voteTerm, lastLogIndex, lastLogTerm, transfer: kind === 'transfer' });
    }
  }

  private poll(m: MsgVoteResp | MsgPreVoteResp): void {
    this.votes.set(m.from, !m.reject);
    switch (voteResult(this.log.config().voters, this.votes)) {
      case 'won':
        if (this.role === 'pre-candidate') this.campaign('election');
        else this.becomeLeader();
        return;
      case 'lost':
        this.becomeFollower(this.term, null);
        return;
      case 'pending':
        return;
    }
  }

  // --- per-role message handling ------------------------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        this.hup(true);
        return;
      case 'read-index-resp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'pre-vote-resp':
        if (this.role === 'pre-candidate') this.poll(m);
        return;
      case 'vote-resp':
        if (this.role === 'candidate') this.poll(m);
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    if (m.type === 'read-index') {
      if (this.readOnly.full() || this.pendingReadIndex.length >= this.readOnly.maxPendingReadRequests) return;
      this.handleReadIndexRequest(m.from, m.context);
      return;
    }
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case 'app-resp':
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeat-resp':
        this.handleHeartbeatResponse(m, pr);
        return;
      default:
        return;
    }
  }

  private handleAppend(m: MsgApp): void {
    if (m.prevLogIndex < this.log.committed) {
      this.sendAppResp(m.from, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.syncConfig();
      this.sendAppResp(m.from, lastNew);
      return;
    }
    // §5.3 with fast backtracking: tell the leader the last index where we could match a log
    // whose entry at prevLogIndex has term prevLogTerm.
    const hint = this.log.findConflictByTerm(Math.min(m.prevLogIndex, this.log.lastIndex()), m.prevLogTerm);
    this.send({
      type: 'app-resp',
      to: m.from,
      index: m.prevLogIndex,
      reject: true,
      rejectHint: hint.index,
      logTermHint: hint.term,
    });
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    // The leader sends min(our match, its commit), so this never points past what we hold.
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeat-resp', to: m.from, readContext: m.readContext });
  }

  private handleSnapshot(m: MsgSnap): void {
    const s = m.snapshot;
    if (s.index <= this.log.committed) {
      this.sendAppResp(m.from, this.log.committed);
    } else if (this.log.matchTerm(s.index, s.term)) {
      // We already hold the snapshot's last entry, so our log matches up to it.
      this.log.commitTo(s.index);
      this.sendAppResp(m.from, this.log.committed);
    } else {
      this.log.restore(s);
      this.syncConfig();
      this.sendAppResp(m.from, this.log.lastIndex());
    }
  }

  private sendAppResp(to: NodeId, index: number): void {
    this.send({ type: 'app-resp', to, index, reject: false, rejectHint: 0, logTermHint: 0 });
  }

  private handleAppendResponse(m: MsgAppResp, pr: Progress): void {
    pr.lastActiveTick = this.leaderTicks;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      // Skip every index whose term in our log is above the follower's term at the hint: the
      // follower's log cannot match there (terms only grow along a log).
      if (m.logTermHint > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTermHint).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return;
    pr.lastAdvanceTick = this.leaderTicks;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndex();
      if (this.deferCommitNotice) this.bcastEntries();
      else this.bcastAppend();
    } else if (!this.deferCommitNotice && m.from !== this.id && pr.canBumpCommit(this.log.committed)) {
      // It holds committed entries but may not know they are committed: tell it now rather
      // than at the next heartbeat.
      this.sendAppend(m.from);
    }
    if (m.from !== this.id) while (this.sendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeout-now', to: m.from });
    }
  }

  private handleHeartbeatResponse(m: MsgHeartbeatResp, pr: Progress): void {
    pr.lastActiveTick = this.leaderTicks;
    pr.probeSent = false;
    const last = this.log.lastIndex();
    if (pr.state === 'replicate' && pr.match < last) {
      // Appends may have been lost: free a slot if the window is full, and if nothing was
      // acknowledged for a while fall back to probing from the last known match.
      if (pr.inflights.full()) pr.inflights.freeFirstOne();
      if (this.leaderTicks - pr.lastAdvanceTick >= this.replicateStallTicks) {
        pr.becomeProbe();
        pr.lastAdvanceTick = this.leaderTicks;
      }
    } else if (pr.state === 'snapshot' && this.leaderTicks - pr.snapshotSentAtTick >= this.electionTimeoutTicks) {
      // The snapshot (or its answer) was probably lost; probing will send it again if needed.
      pr.becomeProbe();
    }
    if (pr.match < last || pr.state === 'probe') this.sendAppend(m.from);

    if (m.readContext === null) return;
    const acks = this.readOnly.recvAck(m.from, m.readContext);
    if (acks === undefined || voteResult(this.log.config().voters, acks) !== 'won') return;
    for (const r of this.readOnly.advance(m.readContext)) this.respondToRead(r.from, r.context, r.index);
  }

  // --- leader duties ------------------------------------------------------------------------

  private refuseProposal(): NotLeader | { readonly ok: false; readonly reason: 'transfer-in-progress' } | null {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.lead };
    if (this.leadTransferee !== null) return { ok: false, reason: 'transfer-in-progress' };
    return null;
  }

  private appendEntries(proposals: readonly EntryProposal[]): void {
    const last = this.log.lastIndex();
    const entries: Entry[] = proposals.map((p, i) => ({ term: this.term, index: last + 1 + i, kind: p.kind, data: p.data }));
    this.log.append(entries);
    this.syncConfig();
    const self = this.progress.get(this.id);
    assert(self !== undefined, 'the leader is a member of its configuration');
    self.maybeUpdate(this.log.lastIndex());
    if (this.maybeCommit()) this.releasePendingReadIndex();
  }

  /** §5.3, §5.4.2: commit the majority-replicated index, but only if it is from our term. */
  private maybeCommit(): boolean {
    const mci = committedIndex(this.log.config().voters, (id) => this.progress.get(id)?.match);
    if (mci > this.log.committed && this.log.term(mci) === this.term) {
      this.log.commitTo(mci);
      return true;
    }
    return false;
  }

  /** Sends every peer what it lacks, as many messages as its flow control allows. */
  private bcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id === this.id || !this.sendAppend(id)) continue;
      while (this.sendAppend(id, false));
    }
  }

  /** Sends every peer the entries it lacks, if any, as flow control allows; no empty appends. */
  private bcastEntries(): void {
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      while (this.sendAppend(id, false));
    }
  }

  /**
   * Leader only: whether some follower holds entries it does not know are committed yet and
   * can be sent to now (with deferCommitNotice, until the next append, heartbeat or
   * sendCommitNotices()).
   */
  commitNoticeOwed(): boolean {
    if (this.role !== 'leader') return false;
    for (const [id, pr] of this.progress) if (this.owesCommitNotice(id, pr) && !pr.isPaused()) return true;
    return false;
  }

  /** Leader only: tells every follower that holds entries it does not know are committed. */
  sendCommitNotices(): void {
    if (this.role !== 'leader') return;
    for (const [id, pr] of this.progress) if (this.owesCommitNotice(id, pr)) this.sendAppend(id);
  }

  private owesCommitNotice(id: NodeId, pr: Progress): boolean {
    return id !== this.id && pr.canBumpCommit(this.log.committed);
  }

  private bcastHeartbeat(): void {
    const readContext = this.readOnly.lastPendingContext();
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      pr.sentCommit = Math.max(pr.sentCommit, commit);
      this.send({ type: 'heartbeat', to: id, commit, readContext });
    }
  }

  /** Sends the next append (or a snapshot) to `to` unless flow control says wait. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    const entries = prevLogTerm === undefined ? null : this.log.entriesFrom(pr.next, this.maxSizePerMsgBytes);
    if (prevLogTerm === undefined || entries === null) {
      const snapshot = this.log.snapshot();
      assert(snapshot.index >= this.log.firstIndex() - 1, 'a snapshot covers every compacted entry');
      this.send({ type: 'snap', to, snapshot });
      pr.becomeSnapshot(snapshot.index, this.leaderTicks);
      return true;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, prevLogIndex, prevLogTerm, entries, commit: this.log.committed });
    pr.sentCommit = Math.max(pr.sentCommit, this.log.committed);
    const lastSent = entries[entries.length - 1];
    pr.sentAppend(lastSent === undefined ? null : lastSent.index);
    return true;
  }

  /** Keeps progress tracking in line with the configuration in the log. */
  private syncConfig(): void {
    const config = this.log.config();
    if (config === this.knownConfig) return;
    this.knownConfig = config;
    if (this.role !== 'leader') return;
    for (const id of [...this.progress.keys()]) if (!membersOf(config).includes(id)) this.progress.delete(id);
    for (const id of membersOf(config)) {
      const pr = this.progress.get(id);
      const learner = !isVoter(config, id);
      if (pr === undefined) this.addProgress(id, learner);
      else pr.isLearner = learner;
    }
    if (this.leadTransferee !== null && !isVoter(config, this.leadTransferee)) this.leadTransferee = null;
    // Removing a voter can shrink the quorum enough to commit.
    if (this.maybeCommit()) {
      this.releasePendingReadIndex();
      this.bcastAppend();
    }
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleReadIndexRequest(from: NodeId, context: string): void {
    const voters = this.log.config().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.respondToRead(from, context, this.log.committed);
      return;
    }
    // Until our noop commits, our commit index may lag entries committed by earlier leaders.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndex.push({ from, context });
      return;
    }
    this.readOnly.add(context, this.log.committed, from);
    this.readOnly.recvAck(this.id, context);
    this.bcastHeartbeat();
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const r of pending) this.handleReadIndexRequest(r.from, r.context);
  }

  private respondToRead(from: NodeId, context: string, index: number): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'read-index-resp', to: from, context, index });
  }

  private send(m: OutgoingMessage): void {
    // Every caller passes a fresh literal: complete it in place rather than copy it (a spread
    // per message cost as much as building it).
    const out = m as { from?: NodeId; term?: number };
    out.from = this.id;
    out.term ??= this.term;
    this.msgs.push(m as Message);
  }
}
