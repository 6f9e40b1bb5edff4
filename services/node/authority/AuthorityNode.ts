import type { ChannelCredentials } from '@grpc/grpc-js';
import { asNodeId, ClusterConfig, RaftStatus, RawNode, Ready, SoftState } from '../../core/consensus';
import { RaftMessage } from '../../../proto/gen/concord/v1/raft';
import { DomainError, notApplied } from '../../core/errors/DomainError';
import { decodeCommand, encodeCommand, KvLogFormat, kvLogFormatFor } from '../../core/kv/commandCodec';
import { commandGrowth } from '../../core/kv/commandGrowth';
import { encodeKvStateInParts } from '../../core/kv/kvStateCodec';
import { KvStateMachine } from '../../core/kv/KvStateMachine';
import { KvCommand, KvCommandResult, KvEvent } from '../../core/kv/types';
import { StorageEngine } from '../../storage/StorageEngine';
import { collectInTurns } from '../collectInTurns';
import { LinkFaults } from '../LinkFaults';
import { DurableRaftStorage } from './DurableRaftStorage';
import { LeaseTimers } from './LeaseTimers';
import { RaftTransport, VoterAddress } from './RaftTransport';
import { ConsensusTelemetry, TracedProposal } from '../../telemetry/ConsensusTelemetry';

export interface AuthorityOptions {
  readonly selfId: string;
  readonly clusterId: string;
  readonly voters: readonly VoterAddress[];
  readonly engine: StorageEngine;
  /** The write-ahead file of the log's entries and hard state (see RaftWal). */
  readonly walDir: string;
  readonly faults: LinkFaults;
  readonly tickMs: number;
  readonly electionTimeoutTicks: number;
  readonly snapshotEveryEntries: number;
  readonly log: (msg: string) => void;
  /** Peers the node's other links (document replication heartbeats) currently reach. */
  readonly otherReachable?: () => readonly string[];
  /**
   * The KV store's size (KvStateMachine.bytes) past which this node, leading, proposes nothing that
   * grows it (default `kvQuotaBytesDefault`). Only the leader's counts: give every voter the same.
   */
  readonly quotaBytes?: number;
  /** How to dial the other voters (default insecure). */
  readonly credentials?: ChannelCredentials;
}

/** The default KV quota: etcd's (2 GiB). */
export const kvQuotaBytesDefault = 2 ** 31;

/** Revisions of history (old versions, watch events) kept by auto-compaction. */
export const historyRevisionsKept = 10_000;

export type RevisionListener = (revision: number, events: KvEvent[]) => void;

interface Proposal {
  readonly term: number;
  readonly resolve: (r: KvCommandResult) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface QueuedProposal {
  readonly telemetry: TracedProposal;
  /** The log index once proposed. */
  index: number | undefined;
  readonly resolve: (r: KvCommandResult) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Entry bytes since the last snapshot that call for one even before `snapshotEveryEntries`. */
export const snapshotEveryBytes = 64 << 20;

/** Log entries kept behind a snapshot, so a follower slightly behind catches up from the log. */
const catchUpTailEntries = 1000;

/** Commands appended to the log in one proposal at most. */
const maxEntriesPerBatch = 1024;

/**
 * How long a leader lets followers go without hearing of a commit (see RaftConfig.
 * deferCommitNotice). Under sequential writes the next put's append carries the commit well
 * within it, so the notice and its answer are never sent; idle, followers apply this much
 * later instead of at once.
 */
const commitNoticeDelayMs = 5;

interface PendingRead {
  index: number | undefined;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The I/O shell around the consensus core for the authoritative path. One ready loop orders all
 * I/O as the core demands: persist (fsync) the snapshot, entries and hard state, then send the
 * messages, then apply committed entries to the KV state machine, then advance. Proposals and
 * linearizable reads wait here for their entry to apply (or their read index to be reached).
 */
export class AuthorityNode {
  readonly storage: DurableRaftStorage;
  readonly transport: RaftTransport;
  sm: KvStateMachine;
  private readonly raw: RawNode;
  private readonly proposals = new Map<number, Proposal>();
  private readonly queued: QueuedProposal[] = [];
  private readonly reads = new Map<string, PendingRead>();
  private readonly listeners = new Set<RevisionListener>();
  private readonly leaseTimers = new LeaseTimers();
  private tickTimer: NodeJS.Timeout | undefined;
  private commitNoticeTimer: NodeJS.Timeout | undefined;
  private looping = false;
  private again = false;
  /** What the commands proposed here and not yet settled can add to the store (see assertRoomFor). */
  private inflightGrowth = 0;
  private readSeq = 0;
  private stopped = false;
  /** Why consensus stopped on this node, when a write failed (see fail). */
  private failedWith: Error | undefined;
  private isLeader = false;
  private compactProposedAt = 0;
  /** Bytes of entries applied since the last snapshot was started or installed. */
  private entryBytesSinceSnapshot = 0;
  /** A local snapshot is being encoded (see maybeSnapshot). */
  private snapshotting = false;
  /** A local snapshot encoded and waiting for the loop to write it. */
  private encodedSnapshot: { readonly index: number; readonly config: ClusterConfig; readonly data: Uint8Array } | undefined;
  private readonly telemetry: ConsensusTelemetry;
  /** Voters whose consensus stream said they read protobuf log entries (see kvLogFormat). */
  private readonly readsProtobuf = new Set<string>();
  private readonly voterIds: readonly string[];
  /** This node's place among the voters in id order (see maybeSnapshot). */
  private readonly voterRank: number;

  constructor(private readonly opts: AuthorityOptions) {
    if (opts.quotaBytes !== undefined && (!Number.isSafeInteger(opts.quotaBytes) || opts.quotaBytes < 1)) throw new RangeError(`a KV quota is a positive integer of bytes, not ${opts.quotaBytes}`);
    this.telemetry = new ConsensusTelemetry(opts.selfId);
    this.voterIds = opts.voters.map((v) => v.id);
    this.voterRank = Math.max(0, [...this.voterIds].sort().indexOf(opts.selfId));
    const bootstrap = { voters: opts.voters.map((v) => asNodeId(v.id)), learners: [] };
    this.storage = new DurableRaftStorage(opts.engine, opts.walDir, bootstrap, (err) => this.fail("deleting an earlier layout's log entries", err));
    const snap = this.storage.snapshot();
    this.sm = snap.index > 0 && snap.data.length > 0 ? KvStateMachine.restore(snap.data) : new KvStateMachine();
    this.raw = new RawNode({
      id: asNodeId(opts.selfId),
      storage: this.storage,
      rand: Math.random,
      electionTimeoutTicks: opts.electionTimeoutTicks,
      // etcd's ratio: a heartbeat every 2 ticks (100 ms at the default 50 ms tick), elections after
      // 10-20. Every tick cost an idle node about a quarter more CPU; ReadIndex and commits do not
      // wait for heartbeats (each sends its own at once).
      heartbeatIntervalTicks: 2,
      appliedIndex: snap.index,
      // A sequential put cost the leader five messages out and five in, two of each the
      // commit notices and their answers. Deferred (four alternated pairs): the cluster's CPU
      // per sequential put 3.77 against 4.24 ms, p50 2.92 against 3.16 ms; 64 clients
      // 5-13% more puts per second (three pairs).
      deferCommitNotice: true,
    });
    this.transport = new RaftTransport(opts.selfId, opts.clusterId, opts.voters, opts.faults, opts.credentials);
  }

  start(): void {
    this.tickTimer = setInterval(() => {
      this.raw.tick();
      if (this.isLeader) {
        this.expireLeases();
        this.autoCompact();
      }
      this.schedule();
    }, this.opts.tickMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    if (this.commitNoticeTimer !== undefined) clearTimeout(this.commitNoticeTimer);
    this.transport.close();
    this.storage.stop();
    this.telemetry.close();
    const closed = new DomainError('unavailable', 'node is stopping');
    for (const q of this.queued.splice(0)) {
      clearTimeout(q.timer);
      q.reject(new DomainError('unavailable', 'node is stopping; the operation was not proposed, so not applied', notApplied));
    }
    // Proposed: a new leader may still commit them.
    for (const p of this.proposals.values()) {
      clearTimeout(p.timer);
      p.reject(new DomainError('unavailable', 'node is stopping; the operation was proposed and its outcome is unknown'));
    }
    for (const r of this.reads.values()) {
      clearTimeout(r.timer);
      r.reject(closed);
    }
  }

  /**
   * A failed write (an fsync above all) is never retried: consensus stops on this node rather
   * than risk a broken promise, and `failure` tells the process to exit (see ConcordNode).
   */
  private fail(what: string, err: unknown): void {
    if (this.stopped) return;
    this.failedWith = err instanceof Error ? err : new Error(String(err));
    this.opts.log(`authority: ${what} failed, stopping consensus: ${this.failedWith.message}`);
    this.stop();
  }

  /** Why consensus stopped on this node after a failed write; undefined while it runs (or after a clean stop). */
  get failure(): Error | undefined {
    return this.failedWith;
  }

  /** Refuses a request once consensus stopped here: nothing of it was proposed. */
  private assertRunning(): void {
    if (!this.stopped) return;
    const why = this.failedWith === undefined ? 'this node is stopping' : `consensus stopped on this node after a failed write (${this.failedWith.message})`;
    throw new DomainError('unavailable', `${why}; the operation was not applied`, notApplied);
  }

  /** Steps a batch from a voter's stream into the core; throws invalid-argument when malformed. */
  receive(from: string, clusterId: string, batch: readonly RaftMessage[]): void {
    const messages = this.transport.receive(from, clusterId, batch);
    if (messages === undefined) return;
    for (const m of messages) this.raw.step(m);
    // At once, not after this turn's other I/O: a follower's append or a leader's
    // acknowledgement is the critical path of every write (a batch carries all that arrived
    // together). Proposals still wait for the end of the turn, to go into the log together.
    this.schedule(true);
  }

  status(): RaftStatus {
    return this.raw.status();
  }

  /**
   * Leader, role and term. Every KV request reads them (and status() builds a sorted progress
   * report on a leader), so requests use this.
   */
  softState(): SoftState {
    return this.raw.softState();
  }

  /** Voters this node heard from within an election timeout (itself included). */
  reachableVoters(): string[] {
    // Followers hear only from the leader on the Raft transport; the replication heartbeats
    // tell about the other masters.
    const voters = new Set(this.opts.voters.map((v) => v.id));
    const heard = new Set(this.transport.reachable(this.opts.tickMs * this.opts.electionTimeoutTicks * 2));
    for (const id of this.opts.otherReachable?.() ?? []) if (voters.has(id) && !this.opts.faults.isCut(id)) heard.add(id);
    return [...heard].sort();
  }

  /** A voter's consensus stream said which KV log formats it reads (see kvLogFormat). */
  notePeerLogFormats(peerId: string, readsProtobuf: boolean): void {
    if (readsProtobuf) this.readsProtobuf.add(peerId);
    else this.readsProtobuf.delete(peerId);
  }

  /** How this node writes KV commands into the log: protobuf once every other voter reads it. */
  get kvLogFormat(): KvLogFormat {
    return kvLogFormatFor(this.voterIds, this.opts.selfId, this.readsProtobuf);
  }

  onRevision(listener: RevisionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Fails at once, naming the reachable voters, when this node cannot be part of a majority
   * right now: no known leader, or fewer than a majority of voters heard from recently.
   */
  assertQuorumReachable(): void {
    const reachable = this.reachableVoters();
    const st = this.raw.softState();
    const majority = Math.floor(this.opts.voters.length / 2) + 1;
    if (reachable.length >= majority && st.leader !== null) return;
    const facts = { 'reachable-voters': reachable.join(','), leader: st.leader ?? '', ...notApplied };
    if (reachable.length < majority) {
      throw new DomainError(
        'unavailable',
        `no quorum: this node reaches ${reachable.length} of ${this.opts.voters.length} voters (${reachable.join(', ')}); a majority of ${majority} is needed`,
        facts,
      );
    }
    if (st.leader === null) {
      throw new DomainError('unavailable', `no leader yet (election in progress); reachable voters: ${reachable.join(', ')}`, facts);
    }
  }

  /** The leader's id when this node is not the leader (for forwarding), else undefined. */
  leaderElsewhere(): string | undefined {
    const st = this.raw.softState();
    return st.leader !== null && st.leader !== this.opts.selfId ? st.leader : undefined;
  }

  /**
   * Proposes a command on the leader; resolves with its result once applied here. Commands
   * proposed in the same event-loop turn go into the log together (one append message per
   * follower, one fsync), so concurrent clients share the cost of a round.
   */
  propose(cmd: KvCommand, timeoutMs: number): Promise<KvCommandResult> {
    this.assertRunning();
    this.assertQuorumReachable();
    const st = this.raw.softState();
    if (st.role !== 'leader') throw this.notLeader(st.leader);
    const growth = this.assertRoomFor(cmd);
    // The entry carries the proposal's trace context when traced, so every voter joins its trace.
    const telemetry = this.telemetry.proposal(cmd, true, this.kvLogFormat);
    // Counted until it settles: applied (the store then holds it), refused or expired.
    this.inflightGrowth += growth;
    return new Promise<KvCommandResult>((resolve, reject) => {
      const queued: QueuedProposal = {
        telemetry, resolve, reject, index: undefined,
        timer: setTimeout(() => this.expireProposal(queued), Math.max(0, timeoutMs)),
      };
      this.queued.push(queued);
      this.schedule();
    }).finally(() => {
      this.inflightGrowth -= growth;
    });
  }

  /**
   * The quota, as etcd's: a command that would grow the store past it is refused before it is
   * proposed (only the leader proposes, so voters never disagree on it), counting what the
   * commands proposed here and not yet settled may add. Reads, deletes, compaction and lease
   * keep-alives and revokes still work, so room can be made: delete keys, then compact their
   * history (a delete adds a tombstone until compaction drops it). Returns the command's growth.
   */
  private assertRoomFor(cmd: KvCommand): number {
    const growth = commandGrowth(cmd);
    const bytes = this.sm.bytes + this.inflightGrowth;
    if (growth === 0 || bytes + growth <= this.quotaBytes) return growth;
    const revision = this.sm.store.revision;
    throw new DomainError('too-large', `the KV store holds ${bytes} bytes (with the writes in flight) and this would add ${growth}, past its quota of ${this.quotaBytes} (--kv-quota-bytes); it was not applied. To make room, delete keys, then compact their history (concord kv compact ${revision}), or revoke unused leases; reads, deletes, compaction, lease keep-alives and revokes still work`);
  }

  /** The store's size past which nothing that grows it is proposed. */
  get quotaBytes(): number {
    return this.opts.quotaBytes ?? kvQuotaBytesDefault;
  }

  /** Appends the queued commands to the log in one proposal (see propose). */
  private flushProposals(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued.splice(0, maxEntriesPerBatch);
    if (this.queued.length > 0) this.again = true;
    const res = this.raw.propose(batch.map((q) => q.telemetry.data));
    if (!res.ok) {
      const err = res.reason === 'not-leader' ? this.notLeader(res.leader) : new DomainError('unavailable', `proposal refused: ${res.reason}; it was not applied`, notApplied);
      for (const q of batch) {
        clearTimeout(q.timer);
        q.telemetry.refused(res.reason);
        q.reject(err);
      }
      return;
    }
    batch.forEach((q, i) => {
      const index = res.firstIndex + i;
      q.index = index;
      const applied = new Promise<KvCommandResult>((resolve, reject) => this.proposals.set(index, { term: res.term, resolve, reject, timer: q.timer }));
      q.telemetry.track(index, res.term, applied).then(q.resolve, q.reject);
    });
  }

  /** The error a follower answers proposals with; kvService forwards on it to `leader`. */
  private notLeader(leader: string | null): DomainError {
    return new DomainError('not-leader', `node ${this.opts.selfId} is not the leader`, { leader: leader ?? '' });
  }

  private expireProposal(q: QueuedProposal): void {
    if (q.index === undefined) {
      const i = this.queued.indexOf(q);
      if (i >= 0) this.queued.splice(i, 1);
      q.telemetry.refused('deadline');
      q.reject(new DomainError('deadline', 'the operation could not be proposed within the deadline; it was not applied', notApplied));
      return;
    }
    const p = this.proposals.get(q.index);
    if (p === undefined) return;
    this.proposals.delete(q.index);
    p.reject(new DomainError('deadline', 'the operation was proposed but not applied within the deadline; its outcome is unknown'));
  }

  /** Waits until this node has applied everything committed before the call (ReadIndex). */
  linearizableRead(timeoutMs: number): Promise<void> {
    this.assertRunning();
    this.assertQuorumReachable();
    const ctx = `${this.opts.selfId}:${++this.readSeq}`;
    const res = this.raw.readIndex(ctx);
    if (!res.ok) throw new DomainError('unavailable', `read refused: ${res.reason}`);
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(ctx);
        reject(new DomainError('deadline', 'linearizable read did not complete within the deadline (leadership may have changed)'));
      }, Math.max(0, timeoutMs));
      this.reads.set(ctx, { index: undefined, resolve, reject, timer });
    });
  }

  /** Leader only: renews a lease's timer; returns the remaining TTL and the grant's token. */
  keepAlive(id: number): { ttlMs: number; fencingToken: number } {
    const lease = this.sm.lease(id);
    const now = Date.now();
    if (this.leaseTimers.isExpired(id, now)) throw new DomainError('not-found', `lease ${id} has expired (its keys are being deleted); a keep-alive cannot bring it back`);
    this.leaseTimers.renew(id, lease.ttlMs, lease.fencingToken, now);
    return { ttlMs: lease.ttlMs, fencingToken: lease.fencingToken };
  }

  /**
   * Leader only: a lease as etcd's LeaseTimeToLive tells it: the time left on this leader's
   * clock (0 once its expiry is under way), what it was granted, its token and attached keys.
   * Throws not-found for a lease that is not granted (never, revoked or expired).
   */
  leaseTimeToLive(id: number, withKeys: boolean): { ttlMs: number; grantedTtlMs: number; fencingToken: number; keyCount: number; keys: string[] } {
    const lease = this.sm.lease(id);
    // In the order a range answers them (UTF-16 code units, as MvccStore keeps its keys).
    const keys = withKeys ? [...lease.keys].sort() : [];
    return { ttlMs: this.timeLeft(id, lease.ttlMs, Date.now()), grantedTtlMs: lease.ttlMs, fencingToken: lease.fencingToken, keyCount: lease.keys.size, keys };
  }

  /** Time left on this leader's clock; a lease not clocked here yet (just elected) has its whole TTL. */
  private timeLeft(id: number, ttlMs: number, now: number): number {
    return this.leaseTimers.remainingMs(id, now) ?? ttlMs;
  }

  /** Leader only: every lease granted, by id, with the time left on this leader's clock. */
  leases(): { id: number; ttlMs: number; grantedTtlMs: number; fencingToken: number; keyCount: number }[] {
    const now = Date.now();
    return this.sm.leaseIds()
      .map((l) => ({ id: l.id, ttlMs: this.timeLeft(l.id, l.ttlMs, now), grantedTtlMs: l.ttlMs, fencingToken: l.fencingToken, keyCount: l.keyCount }))
      .sort((a, b) => a.id - b.id);
  }

  /** Runs the ready loop at the end of this turn (or `now`), or once more if it is running. */
  private schedule(now = false): void {
    if (this.stopped) return;
    if (this.looping) {
      this.again = true;
      return;
    }
    this.looping = true;
    const run = (): void => {
      this.loop().catch((err: unknown) => this.fail('the ready loop', err));
    };
    if (now) run();
    else setImmediate(run);
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        this.flushProposals();
        while (this.raw.hasReady() && !this.stopped) await this.handle(this.raw.ready());
        if (this.encodedSnapshot !== undefined && !this.stopped) await this.writeEncodedSnapshot();
      } while (this.again && !this.stopped);
    } finally {
      this.looping = false;
    }
    this.armCommitNotice();
  }

  /** Sends the commit notices followers are owed unless an append carries them first. */
  private armCommitNotice(): void {
    if (this.stopped || !this.raw.commitNoticeOwed()) {
      // An append carried the commit meanwhile: no timer left to wake the loop for nothing.
      if (this.commitNoticeTimer !== undefined) clearTimeout(this.commitNoticeTimer);
      this.commitNoticeTimer = undefined;
      return;
    }
    if (this.commitNoticeTimer !== undefined) return;
    // stop() clears the timer, so it never fires on a stopped node.
    this.commitNoticeTimer = setTimeout(() => {
      this.commitNoticeTimer = undefined;
      this.raw.sendCommitNotices();
      this.schedule();
    }, commitNoticeDelayMs);
  }

  private async handle(rd: Ready): Promise<void> {
    const traced = this.telemetry.beginReady(rd);
    // A leader sends its appends while it persists them (Raft thesis §10.2.1): it counts itself
    // in a commit quorum at once, but nothing it commits is applied, answered or announced (the
    // commit index travels in a later Ready) before this persist has completed, as the loop is
    // serial. Anyone else (a follower acknowledging entries, a candidate's vote) persists first.
    // A leader's persist writes and syncs on the thread pool: its messages leave in this turn's
    // I/O, so they reach the followers while its disk syncs (a sync on this thread held them until
    // it returned, and a sequential put paid for the leader's sync and a follower's one after the
    // other). Anyone else's waits for its persist anyway: a small one runs on this thread while
    // the disk is fast, which saves a sequential put the two thread hand-offs of a follower's
    // append; on a slow disk it goes to the pool too, so the node goes on answering calls and
    // heartbeats while it waits (see AppendPlacement).
    const early = rd.softState.role === 'leader' && rd.snapshot === undefined && !this.storage.changesVote(rd.hardState);
    if (early) this.transport.send(rd.messages);
    // Entries committed by earlier Readies are durable here (and on a quorum): a leader applies,
    // and answers, them while this Ready's entries sync (started first) instead of after.
    const durable = this.storage.lastIndex();
    const persisting = this.storage.persist(rd.snapshot, rd.entries, rd.hardState, early ? 'pool' : 'loop-when-fast');
    let applied = 0;
    if (early) {
      try {
        for (const e of rd.committedEntries) {
          if (e.index > durable) break;
          traced.apply(e, () => this.applyEntry(e.index, e.term, e.kind, e.data));
          applied++;
        }
      } catch (err) {
        await persisting.catch(() => undefined);
        throw err;
      }
    }
    await persisting;
    traced.persisted();
    if (!early) this.transport.send(rd.messages);
    if (rd.snapshot !== undefined && rd.snapshot.index > this.sm.appliedIndex && rd.snapshot.data.length > 0) {
      this.sm = KvStateMachine.restore(rd.snapshot.data);
      this.entryBytesSinceSnapshot = 0;
    }
    for (const e of rd.committedEntries.slice(applied)) traced.apply(e, () => this.applyEntry(e.index, e.term, e.kind, e.data));
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (r !== undefined) r.index = rs.index;
    }
    this.serveReads();
    const wasLeader = this.isLeader;
    this.isLeader = rd.softState.role === 'leader';
    if (this.isLeader && !wasLeader) this.leaseTimers.resetAll(this.sm.leaseIds(), Date.now());
    if (!this.isLeader) this.leaseTimers.clear();
    this.raw.advance(rd);
    this.maybeSnapshot();
  }

  private applyEntry(index: number, term: number, kind: string, data: Uint8Array): void {
    this.entryBytesSinceSnapshot += data.byteLength;
    const before = this.sm.store.revision;
    let result: KvCommandResult | DomainError | undefined;
    if (kind === 'normal' && data.length > 0) result = this.sm.apply(index, decodeCommand(data));
    else this.sm.appliedIndex = index;
    const p = this.proposals.get(index);
    if (p !== undefined) {
      this.proposals.delete(index);
      clearTimeout(p.timer);
      if (p.term !== term) p.reject(new DomainError('unavailable', 'leadership changed before the operation committed; it was not applied', notApplied));
      else if (result instanceof DomainError) p.reject(result);
      else if (result !== undefined) p.resolve(result);
    }
    if (result !== undefined && !(result instanceof DomainError)) {
      if (result.type === 'lease-grant' && this.isLeader) this.leaseTimers.renew(result.id, result.ttlMs, result.fencingToken, Date.now());
      if (result.type === 'lease-revoke' || result.type === 'lease-expire') this.leaseTimers.prune(new Set(this.sm.leaseIds().map((l) => l.id)));
    }
    if (this.sm.store.revision > before && this.listeners.size > 0) {
      for (const batch of this.sm.store.eventsSince(before + 1)) this.listeners.forEach((l) => l(batch.revision, batch.events));
    }
  }

  private serveReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index !== undefined && this.sm.appliedIndex >= r.index) {
        this.reads.delete(ctx);
        clearTimeout(r.timer);
        r.resolve();
      }
    }
  }

  private expireLeases(): void {
    for (const { id, fencingToken } of this.leaseTimers.expired(Date.now())) {
      const res = this.raw.propose([encodeCommand({ type: 'lease-expire', id, grantToken: fencingToken }, '', this.kvLogFormat)]);
      if (res.ok) continue;
      // Proposed again at the next tick (a lease left marked would never expire while we lead);
      // said once per lease, not every tick.
      if (this.leaseTimers.retryExpiry(id) === 1) this.opts.log(`authority: could not propose expiry of lease ${id}: ${res.reason}; trying again every tick`);
    }
  }

  /**
   * Revision-based auto-compaction, as etcd offers: the leader proposes a compaction that keeps
   * the last `historyRevisionsKept` revisions, so old versions and watch history do not grow
   * without bound (and snapshots, which serialize them, stay cheap). It is an ordinary log
   * command, so every voter compacts at the same point.
   */
  private autoCompact(): void {
    const { revision, compactRevision } = this.sm.store;
    if (revision - compactRevision < 2 * historyRevisionsKept || this.compactProposedAt >= revision) return;
    this.compactProposedAt = revision;
    const res = this.raw.propose([encodeCommand({ type: 'compact', revision: revision - historyRevisionsKept }, '', this.kvLogFormat)]);
    if (res.ok) this.schedule();
  }

  /**
   * Snapshots the state machine once `snapshotEveryEntries` entries (or `snapshotEveryBytes`)
   * and as many bytes as the last snapshot have applied since it, without stopping the loop:
   * the state is captured at once (MvccStore.dump) and encoded a part per turn while commands
   * keep applying, its data stored a chunk per write; the loop then writes its record (see
   * writeEncodedSnapshot). Encoding a 200,000-key state at once held the event loop for a
   * second, long enough for followers to miss the leader's heartbeats.
   */
  private maybeSnapshot(): void {
    const index = this.sm.appliedIndex;
    const last = this.storage.snapshot();
    if (this.snapshotting || this.encodedSnapshot !== undefined) return;
    // Due after `snapshotEveryEntries` entries, or `snapshotEveryBytes` of them (large values),
    // so the log held in memory and replayed at restart stays bounded.
    // Voters apply the same entries, so they would all snapshot at once; each waits a share of
    // the interval longer before its first one (by its rank among the voters), and the
    // intervals that follow keep them apart: two cores were busy encoding three snapshots.
    const stagger = last.index === 0 ? 1 + this.voterRank / this.voterIds.length : 1;
    if (index - last.index < this.opts.snapshotEveryEntries * stagger && this.entryBytesSinceSnapshot < snapshotEveryBytes * stagger) return;
    // Amortized, like Redis's log rewrite at 100% growth: not before the log since the last
    // snapshot holds as many bytes as that snapshot, so encoding a large state costs a bounded
    // share of the writes, and replaying the log at restart costs no more than loading it.
    if (this.entryBytesSinceSnapshot < last.data.byteLength) return;
    this.snapshotting = true;
    this.entryBytesSinceSnapshot = 0;
    const config = this.raw.status().config;
    const sm = this.sm;
    // A stop, or a snapshot from the leader replacing the state meanwhile, makes this one moot.
    const moot = (): boolean => this.stopped || this.sm !== sm;
    const encodeAndStore = async (): Promise<void> => {
      const data = await collectInTurns(encodeKvStateInParts(sm.snapshotParts()), moot);
      if (data === undefined) return;
      // The data goes to disk a chunk per write, outside the loop; the loop writes the record.
      if (!(await this.storage.storeSnapshotData(index, data, moot))) return;
      this.encodedSnapshot = { index, config, data };
      this.schedule();
    };
    encodeAndStore().then(
      () => {
        this.snapshotting = false;
      },
      (err: unknown) => {
        if (this.stopped) return; // the engine closes after a stop: nothing failed
        this.fail(`taking the snapshot at ${index}`, err);
      },
    );
  }

  /** Records the encoded snapshot and compacts the log behind it (keeping a catch-up tail). */
  private async writeEncodedSnapshot(): Promise<void> {
    const snap = this.encodedSnapshot;
    if (snap === undefined) return;
    this.encodedSnapshot = undefined;
    // Keep a tail of entries so a follower that is slightly behind catches up without a snapshot.
    const tail = Math.min(catchUpTailEntries, this.opts.snapshotEveryEntries);
    // A snapshot installed from the leader meanwhile supersedes this one (storage skips it).
    await this.storage.snapshotAndCompact(snap.index, snap.config, snap.data, snap.index - tail, true);
  }
}
