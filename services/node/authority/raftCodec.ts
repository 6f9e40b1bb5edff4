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

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** A uint64 from the wire as a number; indexes and terms stay far below 2^53. */
function num(v: bigint, field: string): number {
  if (v > maxSafe) throw invalid(`${field} (beyond 2^53)`);
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

/**
 * Every field of a RaftMessage in one literal, so every message built here has the same shape
 * (the cases below only overwrite fields). Spreading a defaults object and then the result
 * again made V8 migrate each new object between maps: 8 us of a 13 us encode-decode round trip
 * went to that.
 */
function baseProto(m: Message): RaftMessage {
  return {
    type: typeToProto[m.type], from: m.from, to: m.to, term: BigInt(m.term),
    lastLogIndex: 0n, lastLogTerm: 0n, transfer: false, reject: false, prevLogIndex: 0n, prevLogTerm: 0n,
    entries: [], commit: 0n, index: 0n, rejectHint: 0n, logTermHint: 0n, hasReadContext: false, readContext: '',
    snapshot: undefined, context: '',
  };
}

export function messageToProto(m: Message): RaftMessage {
  const out = baseProto(m);
  switch (m.type) {
    case 'vote':
      out.transfer = m.transfer;
      out.lastLogIndex = BigInt(m.lastLogIndex);
      out.lastLogTerm = BigInt(m.lastLogTerm);
      return out;
    case 'pre-vote':
      out.lastLogIndex = BigInt(m.lastLogIndex);
      out.lastLogTerm = BigInt(m.lastLogTerm);
      return out;
    case 'vote-resp':
    case 'pre-vote-resp':
      out.reject = m.reject;
      return out;
    case 'app':
      out.prevLogIndex = BigInt(m.prevLogIndex);
      out.prevLogTerm = BigInt(m.prevLogTerm);
      out.entries = m.entries.map(entryToProto);
      out.commit = BigInt(m.commit);
      return out;
    case 'app-resp':
      out.index = BigInt(m.index);
      out.reject = m.reject;
      out.rejectHint = BigInt(m.rejectHint);
      out.logTermHint = BigInt(m.logTermHint);
      return out;
    case 'heartbeat':
      out.commit = BigInt(m.commit);
      out.hasReadContext = m.readContext !== null;
      out.readContext = m.readContext ?? '';
      return out;
    case 'heartbeat-resp':
      out.hasReadContext = m.readContext !== null;
      out.readContext = m.readContext ?? '';
      return out;
    case 'snap':
      out.snapshot = snapshotToProto(m.snapshot);
      return out;
    case 'read-index':
      out.context = m.context;
      return out;
    case 'read-index-resp':
      out.context = m.context;
      out.index = BigInt(m.index);
      return out;
    case 'timeout-now':
      return out;
  }
}

/** Decodes one message; throws invalid-argument on anything the core could not take. */
export function messageFromProto(p: RaftMessage): Message {
  const from = id(p.from, 'message from');
  const to = id(p.to, 'message to');
  const term = num(p.term, 'message term');
  const readContext = p.hasReadContext ? p.readContext : null;
  // One literal per type, no spreads (see baseProto).
  switch (p.type) {
    case RaftMessageType.RAFT_MESSAGE_TYPE_VOTE:
      return { type: 'vote', from, to, term, lastLogIndex: num(p.lastLogIndex, 'lastLogIndex'), lastLogTerm: num(p.lastLogTerm, 'lastLogTerm'), transfer: p.transfer };
    case RaftMessageType.RAFT_MESSAGE_TYPE_PRE_VOTE:
      return { type: 'pre-vote', from, to, term, lastLogIndex: num(p.lastLogIndex, 'lastLogIndex'), lastLogTerm: num(p.lastLogTerm, 'lastLogTerm') };
    case RaftMessageType.RAFT_MESSAGE_TYPE_VOTE_RESP:
      return { type: 'vote-resp', from, to, term, reject: p.reject };
    case RaftMessageType.RAFT_MESSAGE_TYPE_PRE_VOTE_RESP:
      return { type: 'pre-vote-resp', from, to, term, reject: p.reject };
    case RaftMessageType.RAFT_MESSAGE_TYPE_APP:
      return {
        type: 'app', from, to, term, prevLogIndex: num(p.prevLogIndex, 'prevLogIndex'), prevLogTerm: num(p.prevLogTerm, 'prevLogTerm'),
        entries: p.entries.map(entryFromProto), commit: num(p.commit, 'commit'),
      };
    case RaftMessageType.RAFT_MESSAGE_TYPE_APP_RESP:
      return {
        type: 'app-resp', from, to, term, index: num(p.index, 'index'), reject: p.reject, rejectHint: num(p.rejectHint, 'rejectHint'),
        logTermHint: num(p.logTermHint, 'logTermHint'),
      };
    case RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT:
      return { type: 'heartbeat', from, to, term, commit: num(p.commit, 'commit'), readContext };
    case RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT_RESP:
      return { type: 'heartbeat-resp', from, to, term, readContext };
    case RaftMessageType.RAFT_MESSAGE_TYPE_SNAP:
      if (p.snapshot === undefined) throw invalid('snap message (no snapshot)');
      return { type: 'snap', from, to, term, snapshot: snapshotFromProto(p.snapshot) };
    case RaftMessageType.RAFT_MESSAGE_TYPE_READ_INDEX:
      return { type: 'read-index', from, to, term, context: p.context };
    case RaftMessageType.RAFT_MESSAGE_TYPE_READ_INDEX_RESP:
      return { type: 'read-index-resp', from, to, term, context: p.context, index: num(p.index, 'index') };
    case RaftMessageType.RAFT_MESSAGE_TYPE_TIMEOUT_NOW:
      return { type: 'timeout-now', from, to, term };
    default:
      throw invalid(`message type ${String(p.type)}`);
  }
}
