import type { AuthorizationStatus, PeerStatus, StatusResponse, TlsStatus } from '../../proto/gen/concord/v1/admin';
import { certificateExpiryWarningDays, daysLeft } from '../client/tlsFiles';
import type { NodeStatusResult } from '../client/ConcordClientOptions';
import { errorText } from './errorText';
import { authorityLines } from './formatAuthority';
import { episodeLine } from './formatEpisode';
import { formatTable } from './formatTable';

// The human view of `concord status`: one row per node, then its authoritative log (term,
// leader, commit; formatAuthority.ts), one indented line per peer link (stream, failure
// detector, injected faults, backlog) and, when there are any, the node's latest partition
// episodes, so a partition, its cause and its aftermath show at a glance.

/** Episodes shown per node; `concord ledger` has the rest. */
const episodesShown = 3;

export function formatStatusTable(results: readonly NodeStatusResult[], nowMs: number = Date.now()): string[] {
  const rows = [['NODE', 'ROLE', 'ADDRESS', 'REACHABLE', 'DOCS', 'UPTIME', 'PEERS UP']];
  const details: string[][] = [];
  for (const result of results) {
    if (!result.ok) {
      rows.push(['?', '?', result.address, 'no', '-', '-', '-']);
      details.push([`  ${errorText(result.error)}`]);
      continue;
    }
    const s = result.status;
    const up = s.peers.filter((p) => p.connected).length;
    rows.push([s.nodeId, s.role, result.address, 'yes', String(s.documents), duration(s.uptimeMs), `${up}/${s.peers.length}`]);
    details.push([...authorityLines(s.authority), ...tlsLines(s.tls, nowMs), ...authorizationLines(s.authorization), ...s.peers.map(peerLine), ...episodeLines(s, nowMs)]);
  }
  const [header, ...lines] = formatTable(rows);
  return [header!, ...lines.flatMap((line, i) => [line, ...(details[i] ?? [])])];
}

/** The certificate a mutual-TLS node serves, and when it expires (loud within the warning window). */
export function tlsLines(tls: TlsStatus | undefined, nowMs: number): string[] {
  if (tls === undefined) return [];
  const notAfter = Number(tls.notAfterMs);
  const days = daysLeft(notAfter, nowMs);
  const when = `${new Date(notAfter).toISOString().slice(0, 10)}`;
  const expiry = notAfter <= nowMs
    ? `EXPIRED on ${when}: peers and clients refuse it`
    : days < certificateExpiryWarningDays ? `EXPIRES in ${days} days (${when}): rotate it` : `expires ${when} (in ${days} days)`;
  return [`  tls: ${tls.subject}  serial=${tls.serial}  ${expiry}`];
}

/** The access policy a node checks calls against, and a change of its file it refused (loud). */
export function authorizationLines(a: AuthorizationStatus | undefined): string[] {
  if (a === undefined) return [];
  const line = `  access policy: ${a.policyFile}  ${a.users} users, ${a.roles} roles  loaded ${new Date(Number(a.loadedAtMs)).toISOString()}`;
  return a.lastError === '' ? [line] : [line, `  access policy CHANGE REFUSED (the loaded one stays in force): ${a.lastError}`];
}

function peerLine(p: PeerStatus): string {
  // Abnormal states in capitals, so they stand out in a column of normal ones.
  const link = [p.connected ? 'connected' : 'DISCONNECTED', p.reachable ? 'reachable' : 'UNREACHABLE', p.cut ? 'cut=YES' : 'cut=no', `delay=${p.delayMs}ms`];
  const backlog = `backlog=${p.backlogUpdates} updates/${p.backlogBytes} B`;
  return `  -> ${p.nodeId || p.address}  ${link.join('  ')}  ${backlog}  heard ${duration(p.lastHeardMsAgo)} ago`;
}

function episodeLines(s: StatusResponse, nowMs: number): string[] {
  // A node that never saw a partition gets no section, so a healthy cluster's table stays short.
  if (s.recentEpisodes.length === 0) return [];
  const more = s.recentEpisodes.length - episodesShown;
  return [
    '  recent partition episodes (newest first):',
    ...s.recentEpisodes.slice(0, episodesShown).map((e) => `    ${episodeLine(e, nowMs)}`),
    ...(more > 0 ? [`    ... ${more} more: concord ledger --node ${s.nodeId}`] : []),
  ];
}

function duration(ms: bigint): string {
  const seconds = Number(ms / 1000n);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}
