import type { TlsFiles } from '../../clients/client/tlsFiles';
import type { PeerConfig } from './Replicator';

export type NodeRole = 'master' | 'witness' | 'replica';

/** Everything that describes one node of a cluster. */
export interface NodeConfig {
  readonly nodeId: string;
  readonly role: NodeRole;
  readonly listen: string; // host:port; port 0 picks a free one
  readonly peers: readonly PeerConfig[];
  readonly dataDir: string;
  readonly clusterId: string;
  readonly antiEntropyIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  /** Consensus clock: one tick every raftTickMs; elections after electionTimeoutTicks..2x. */
  readonly raftTickMs: number;
  readonly electionTimeoutTicks: number;
  /** The state machine is snapshotted (and the log compacted) every this many applied entries (default 10,000; see AuthorityNode.maybeSnapshot). */
  readonly raftSnapshotEntries?: number;
  /** Credential guarding the admin calls that change the cluster (fault injection). */
  readonly adminToken: string | undefined;
  /** Documents kept loaded in memory; the rest load from storage on first use (default 10,000). */
  readonly cacheDocumentsMax?: number;
  /** Answers a KV watch stream may have waiting to be sent before it ends (default 10,000; see kvService). */
  readonly watchQueueMax?: number;
  /** The KV store's size past which writes that grow it are refused (default: AuthorityNode's kvQuotaBytesDefault). */
  readonly kvQuotaBytes?: number;
  /** Mutual TLS for every connection, served and dialled (see transportCredentials); insecure without. */
  readonly tls?: TlsFiles;
  /** How often the TLS files (and the access policy) are checked for changes (default tlsReloadIntervalMsDefault). */
  readonly tlsReloadIntervalMs?: number;
  /**
   * The access policy every client call is checked against (see AccessPolicy); needs `tls`, as
   * users are named by their client certificates. Without it, every caller may do everything.
   */
  readonly authzFile?: string;
}

/** Parses `n2=127.0.0.1:7002,n3=127.0.0.1:7003` (optionally `n3=host:port/witness`). */
export function parsePeers(text: string): PeerConfig[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = /^([A-Za-z0-9_.-]+)=([^/]+?)(?:\/(master|witness|replica))?$/.exec(part.trim());
    if (m === null) throw new Error(`bad peer "${part}": expected id=host:port[/role]`);
    return { id: m[1] as string, address: m[2] as string, role: (m[3] ?? 'master') as NodeRole };
  });
}
