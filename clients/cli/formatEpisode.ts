import type { PartitionEpisode } from '../../proto/gen/concord/v1/admin';

// How a partition episode reads in `concord ledger` (a table row) and `concord status` (one line
// per episode). Times on the wire are unix ms; an episode still open has healed_at 0, and one
// healed but not yet repaired by anti-entropy has converged_at 0.

export const episodeHeader = ['PEER', 'CAUSE', 'STARTED (UTC)', 'CUT FOR', 'LOCAL UPD', 'REMOTE UPD', 'DOCS DIVERGED', 'CONVERGED IN', 'BYTES'];

/** The ledger's cells for one episode, in episodeHeader's order. */
export function episodeCells(e: PartitionEpisode, nowMs: number): string[] {
  return [
    e.peerId,
    e.cause,
    formatUtc(Number(e.startedAtMs)),
    cutFor(e, nowMs),
    String(e.localUpdates),
    String(e.remoteUpdates),
    String(e.documentsDiverged),
    convergedIn(e),
    formatBytes(Number(e.bytesExchanged)),
  ];
}

/** One line for `concord status`. */
export function episodeLine(e: PartitionEpisode, nowMs: number): string {
  const numbers = `local=${e.localUpdates} remote=${e.remoteUpdates} docs=${e.documentsDiverged} bytes=${formatBytes(Number(e.bytesExchanged))}`;
  return `${e.peerId}  ${e.cause}  ${formatUtc(Number(e.startedAtMs))}  cut ${cutFor(e, nowMs)}  converged in ${convergedIn(e)}  ${numbers}`;
}

function cutFor(e: PartitionEpisode, nowMs: number): string {
  if (e.healedAtMs === 0n) return `${formatMs(nowMs - Number(e.startedAtMs))} (ongoing)`;
  return formatMs(Number(e.healedAtMs - e.startedAtMs));
}

function convergedIn(e: PartitionEpisode): string {
  if (e.healedAtMs === 0n) return '-';
  if (e.convergedAtMs === 0n) return 'pending';
  return formatMs(Number(e.convergedAtMs - e.healedAtMs));
}

/** 420ms, 4.2s, 3m05s, 2h03m. */
export function formatMs(ms: number): string {
  const clamped = Math.max(0, Math.round(ms));
  if (clamped < 1000) return `${clamped}ms`;
  // Tenths are rounded first so that 59.99 s reads 1m00s, not 60.0s.
  if (Math.round(clamped / 100) < 600) return `${(Math.round(clamped / 100) / 10).toFixed(1)}s`;
  const seconds = Math.round(clamped / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** 512 B, 1.2 KiB, 3.4 MiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** 2025-01-31 10:00:03Z: UTC so that output does not depend on where it is read. */
export function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
