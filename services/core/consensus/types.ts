// Plain data shared by the consensus core and its shell: ids, log entries, persistent state,
// snapshots and the messages voters exchange. Nothing here does I/O or holds behaviour beyond
// small constructors and assertions.

/** A voter's or learner's id, e.g. "n1". Branded so it cannot be mixed up with other strings. */
export type NodeId = string & { readonly __brand: 'NodeId' };

/** Makes a NodeId from a non-empty string. Throws on an empty id (a programmer error). */
export function asNodeId(id: string): NodeId {
  if (id.length === 0) throw new Error('NodeId must not be empty');
  return id as NodeId;
}

/**
 * `normal` carries application data, `config` carries an encoded ClusterConfig (see
 * clusterConfig.ts), `noop` is the empty entry a new leader appends so it can commit in its term.
 */
export type EntryKind = 'normal' | 'config' | 'noop';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** What an entry is before the leader assigns term and index. */
export interface EntryProposal {
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** State that must be on disk before any message produced alongside it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export const emptyHardState: HardState = { term: 0, vote: null, commit: 0 };

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Who takes part in the log. Voters elect and form quorums; learners only receive the log
 * (a new member catches up as a learner before it is promoted to voter).
 */
export interface ClusterConfig {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * The application state as of `index` (inclusive) plus the configuration in force at that
 * index. `data` is opaque to the core.
 */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state worth showing (status, metrics); never persisted. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
  readonly term: number;
}

/**
 * A linearizable read may be served once the local state machine has applied `index`.
 * `context` is the caller's request id given to readIndex().
 */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's term; for a pre-vote, the term the sender would campaign in. */
  readonly term: number;
}

/** Request for a vote. `transfer` marks a campaign started by leader transfer (ignores leases). */
export interface MsgVote extends MessageBase {
  readonly type: 'vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

export interface MsgVoteResp extends MessageBase {
  readonly type: 'vote-resp';
  readonly reject: boolean;
}

/** PreVote (Raft thesis §9.6): would you vote for me? Changes no state on the receiver. */
export interface MsgPreVote extends MessageBase {
  readonly type: 'pre-vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface MsgPreVoteResp extends MessageBase {
  readonly type: 'pre-vote-resp';
  readonly reject: boolean;
}

/** AppendEntries: entries follow (prevLogIndex, prevLogTerm); may be empty (a probe). */
export interface MsgApp extends MessageBase {
  readonly type: 'app';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * On success, `index` is the last index known to match the leader. On reject, `index` is the
 * rejected prevLogIndex and (rejectHint, logTermHint) is the follower's best guess of where the
 * logs may match, so the leader can skip a whole term per round trip (fast backtracking).
 */
export interface MsgAppResp extends MessageBase {
  readonly type: 'app-resp';
  readonly index: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly logTermHint: number;
}

/** Keeps followers from campaigning, carries a safe commit index and a pending read context. */
export interface MsgHeartbeat extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly readContext: string | null;
}

export interface MsgHeartbeatResp extends MessageBase {
  readonly type: 'heartbeat-resp';
  readonly readContext: string | null;
}

export interface MsgSnap extends MessageBase {
  readonly type: 'snap';
  readonly snapshot: Snapshot;
}

/** A follower asks the leader for a read index on behalf of its client. */
export interface MsgReadIndex extends MessageBase {
  readonly type: 'read-index';
  readonly context: string;
}

export interface MsgReadIndexResp extends MessageBase {
  readonly type: 'read-index-resp';
  readonly context: string;
  readonly index: number;
}

/** Leader transfer: the target should campaign at once, skipping PreVote. */
export interface MsgTimeoutNow extends MessageBase {
  readonly type: 'timeout-now';
}

export type Message =
  | MsgVote
  | MsgVoteResp
  | MsgPreVote
  | MsgPreVoteResp
  | MsgApp
  | MsgAppResp
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgSnap
  | MsgReadIndex
  | MsgReadIndexResp
  | MsgTimeoutNow;

export type MessageType = Message['type'];

/** Distributes Omit over a union so each variant keeps its own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A message before the sender stamps from/term on it. */
export type OutgoingMessage = DistributiveOmit<Message, 'from' | 'term'> & { readonly term?: number };

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`raft invariant violated: ${message}`);
}

export function entryBytes(e: { readonly data: Uint8Array }): number {
  return e.data.byteLength;
}
