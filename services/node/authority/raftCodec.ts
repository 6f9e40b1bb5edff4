import { asNodeId, Entry, EntryKind, HardState, Message, NodeId, Snapshot } from '../../core/consensus';
import { DomainError } from '../../core/errors/DomainError';
import {
  RaftEntry,
  RaftEntryKind,
  RaftHardState,
  RaftMessage,
  RaftMessageType,
  RaftSnapshot,
} from '../../../proto/gen/concord/v1/raft';

// The consensus core's plain data <-> the protobuf messages of raft.proto, for the wire (the
// voters' stream) and the disk (DurableRaftStorage). Anything a peer or the disk could get
// wrong is checked here, so the core only ever sees well-formed values.

const kindToProto: Record<EntryKind, RaftEntryKind> = {
  normal: RaftEntryKind.RAFT_ENTRY_KIND_NORMAL,
  config: RaftEntryKind.RAFT_ENTRY_KIND_CONFIG,
  noop: RaftEntryKind.RAFT_ENTRY_KIND_NOOP,
};
const kindFromProto = new Map<RaftEntryKind, EntryKind>(Object.entries(kindToProto).map(([k, v]) => [v, k as EntryKind]));

const typeToProto: Record<Message['type'], RaftMessageType> = {
  vote: RaftMessageType.RAFT_MESSAGE_TYPE_VOTE,
  'vote-resp': RaftMessageType.RAFT_MESSAGE_TYPE_VOTE_RESP,
  'pre-vote': RaftMessageType.RAFT_MESSAGE_TYPE_PRE_VOTE,
  'pre-vote-resp': RaftMessageType.RAFT_MESSAGE_TYPE_PRE_VOTE_RESP,
  app: RaftMessageType.RAFT_MESSAGE_TYPE_APP,
  'app-resp': RaftMessageType.RAFT_MESSAGE_TYPE_APP_RESP,
  heartbeat: RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT,
  'heartbeat-resp': RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT_RESP,
  snap: RaftMessageType.RAFT_MESSAGE_TYPE_SNAP,
  'read-index': RaftMessageType.RAFT_MESSAGE_TYPE_READ_INDEX,
  'read-index-resp': RaftMessageType.RAFT_MESSAGE_TYPE_READ_INDEX_RESP,
  'timeout-now': RaftMessageType.RAFT_MESSAGE_TYPE_TIMEOUT_NOW,
};

const invalid = (what: string): DomainError => new DomainError('invalid-argument', `malformed raft ${what}`);

/** A uint64 from the wire as a number; indexes and terms stay far below 2^53. */
function num(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${field} (beyond 2^53)`);
  return Number(v);
}

function id(v: string, field: string): NodeId {
  if (v.length === 0) throw invalid(`${field} (empty node id)`);
  return asNodeId(v);
}

export function entryToProto(e: Entry): RaftEntry {
  return { term: BigInt(e.term), index: BigInt(e.index), kind: kindToProto[e.kind], data: e.data };
}

export function entryFromProto(e: RaftEntry): Entry {
  const kind = kindFromProto.get(e.kind);
  if (kind === undefined) throw invalid('entry kind');
  return { term: num(e.term, 'entry term'), index: num(e.index, 'entry index'), kind, data: e.data };
}

export function snapshotToProto(s: Snapshot): RaftSnapshot {
  return { index: BigInt(s.index), term: BigInt(s.term), voters: [...s.voters], learners: [...s.learners], data: s.data, dataBytes: 0n };
}

export function snapshotFromProto(s: RaftSnapshot): Snapshot {
  return {
    index: num(s.index, 'snapshot index'),
    term: num(s.term, 'snapshot term'),
    voters: s.voters.map((v) => id(v, 'snapshot voter')),
    learners: s.learners.map((v) => id(v, 'snapshot learner')),
    data: s.data,
  };
}

export function hardStateToProto(h: HardState): RaftHardState {
  return { term: BigInt(h.term), vote: h.vote ?? '', commit: BigInt(h.commit) };
}

export function hardStateFromProto(h: RaftHardState): HardState {
  return { term: num(h.term, 'hard state term'), vote: h.vote === '' ? null : asNodeId(h.vote), commit: num(h.commit, 'hard state commit') };
}

const emptyMessage: Omit<RaftMessage, 'type' | 'from' | 'to' | 'term'> = {
  lastLogIndex: 0n, lastLogTerm: 0n, transfer: false, reject: false, prevLogIndex: 0n, prevLogTerm: 0n,
  entries: [], commit: 0n, index: 0n, rejectHint: 0n, logTermHint: 0n, hasReadContext: false, readContext: '',
  snapshot: undefined, context: '',
};

export function messageToProto(m: Message): RaftMessage {
  const out: RaftMessage = { ...emptyMessage, type: typeToProto[m.type], from: m.from, to: m.to, term: BigInt(m.term) };
  switch (m.type) {
    case 'vote':
      return { ...out, lastLogIndex: BigInt(m.lastLogIndex), lastLogTerm: BigInt(m.lastLogTerm), transfer: m.transfer };
    case 'pre-vote':
      return { ...out, lastLogIndex: BigInt(m.lastLogIndex), lastLogTerm: BigInt(m.lastLogTerm) };
    case 'vote-resp':
    case 'pre-vote-resp':
      return { ...out, reject: m.reject };
    case 'app':
      return { ...out, prevLogIndex: BigInt(m.prevLogIndex), prevLogTerm: BigInt(m.prevLogTerm), entries: m.entries.map(entryToProto), commit: BigInt(m.commit) };
    case 'app-resp':
      return { ...out, index: BigInt(m.index), reject: m.reject, rejectHint: BigInt(m.rejectHint), logTermHint: BigInt(m.logTermHint) };
    case 'heartbeat':
      return { ...out, commit: BigInt(m.commit), hasReadContext: m.readContext !== null, readContext: m.readContext ?? '' };
    case 'heartbeat-resp':
      return { ...out, hasReadContext: m.readContext !== null, readContext: m.readContext ?? '' };
    case 'snap':
      return { ...out, snapshot: snapshotToProto(m.snapshot) };
    case 'read-index':
      return { ...out, context: m.context };
    case 'read-index-resp':
      return { ...out, context: m.context, index: BigInt(m.index) };
    case 'timeout-now':
      return out;
  }
}

/** Decodes one message; throws invalid-argument on anything the core could not take. */
export function messageFromProto(p: RaftMessage): Message {
  const base = { from: id(p.from, 'message from'), to: id(p.to, 'message to'), term: num(p.term, 'message term') };
  const readContext = p.hasReadContext ? p.readContext : null;
  switch (p.type) {
    case RaftMessageType.RAFT_MESSAGE_TYPE_VOTE:
      return { ...base, type: 'vote', lastLogIndex: num(p.lastLogIndex, 'lastLogIndex'), lastLogTerm: num(p.lastLogTerm, 'lastLogTerm'), transfer: p.transfer };
    case RaftMessageType.RAFT_MESSAGE_TYPE_PRE_VOTE:
      return { ...base, type: 'pre-vote', lastLogIndex: num(p.lastLogIndex, 'lastLogIndex'), lastLogTerm: num(p.lastLogTerm, 'lastLogTerm') };
    case RaftMessageType.RAFT_MESSAGE_TYPE_VOTE_RESP:
      return { ...base, type: 'vote-resp', reject: p.reject };
    case RaftMessageType.RAFT_MESSAGE_TYPE_PRE_VOTE_RESP:
      return { ...base, type: 'pre-vote-resp', reject: p.reject };
    case RaftMessageType.RAFT_MESSAGE_TYPE_APP:
      return {
        ...base, type: 'app', prevLogIndex: num(p.prevLogIndex, 'prevLogIndex'), prevLogTerm: num(p.prevLogTerm, 'prevLogTerm'),
        entries: p.entries.map(entryFromProto), commit: num(p.commit, 'commit'),
      };
    case RaftMessageType.RAFT_MESSAGE_TYPE_APP_RESP:
      return {
        ...base, type: 'app-resp', index: num(p.index, 'index'), reject: p.reject, rejectHint: num(p.rejectHint, 'rejectHint'),
        logTermHint: num(p.logTermHint, 'logTermHint'),
      };
    case RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT:
      return { ...base, type: 'heartbeat', commit: num(p.commit, 'commit'), readContext };
    case RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT_RESP:
      return { ...base, type: 'heartbeat-resp', readContext };
    case RaftMessageType.RAFT_MESSAGE_TYPE_SNAP:
      if (p.snapshot === undefined) throw invalid('snap message (no snapshot)');
      return { ...base, type: 'snap', snapshot: snapshotFromProto(p.snapshot) };
    case RaftMessageType.RAFT_MESSAGE_TYPE_READ_INDEX:
      return { ...base, type: 'read-index', context: p.context };
    case RaftMessageType.RAFT_MESSAGE_TYPE_READ_INDEX_RESP:
      return { ...base, type: 'read-index-resp', context: p.context, index: num(p.index, 'index') };
    case RaftMessageType.RAFT_MESSAGE_TYPE_TIMEOUT_NOW:
      return { ...base, type: 'timeout-now' };
    default:
      throw invalid(`message type ${String(p.type)}`);
  }
}
