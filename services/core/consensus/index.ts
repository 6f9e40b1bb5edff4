// Public surface of the consensus core. The shell (services/node) and the KV layer import from
// here; everything else in this folder is an implementation detail.

export * from './types';
export * from './clusterConfig';
export { committedIndex, voteResult, hasQuorum, quorumSize, type VoteResult } from './quorum';
export type { RaftStorage, TermResult, EntriesResult } from './RaftStorage';
export { MemoryRaftStorage, type SnapshotWriteResult } from './MemoryRaftStorage';
export {
  raftDefaults,
  type RaftConfig,
  type RaftStatus,
  type ProgressStatus,
  type ProposeResult,
  type ConfChangeResult,
  type ReadIndexResult,
  type TransferResult,
  type NotLeader,
} from './Raft';
export { RawNode, type Ready } from './RawNode';
