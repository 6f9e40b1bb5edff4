import type { AuthorityStatus } from '../../proto/gen/concord/v1/admin';

// The authoritative log (Raft) in `concord status`: each node's term, leader, role and how far
// it has committed and applied; the leader also shows each voter's match index (the log
// position known replicated there), so a voter falling behind or cut off stands out; and the
// KV store's size against its quota.

const mib = (n: bigint): string => `${(Number(n) / 2 ** 20).toFixed(1)} MiB`;

export function authorityLines(authority: AuthorityStatus | undefined): string[] {
  if (authority === undefined) return [];
  const a = authority;
  const leader = a.leaderId === '' ? 'NONE' : a.leaderId;
  const lines = [
    `  log: term=${a.term}  leader=${leader}  role=${a.role}  commit=${a.commit}  applied=${a.applied}  last=${a.lastIndex}  kv_revision=${a.revision}`,
  ];
  // Nodes of an earlier version report no quota.
  if (a.kvQuotaBytes > 0n) {
    const full = Number((a.kvBytes * 100n) / a.kvQuotaBytes);
    lines.push(`  kv store: ${mib(a.kvBytes)} of its ${mib(a.kvQuotaBytes)} quota${full >= 90 ? ` (${full}% FULL: writes that would pass it are refused)` : ''}`);
  }
  if (a.role !== 'leader') return lines;
  for (const v of a.voters) {
    const behind = a.lastIndex - v.match;
    lines.push(`    voter ${v.nodeId}  match=${v.match}  next=${v.next}  ${v.state}${behind > 0n ? `  (${behind} behind)` : ''}`);
  }
  return lines;
}
