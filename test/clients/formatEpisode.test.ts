// Proves how partition episodes and link faults read in `concord ledger` and `concord status`:
// durations (cut for, converged in) for closed, ongoing and not yet converged episodes, and the
// status table's per-link reachable/cut/delay with a short recent-episodes section per node
// that has any.
import { PartitionEpisode, StatusResponse } from '../../proto/gen/concord/v1/admin';
import { episodeCells, formatBytes, formatMs, formatUtc } from '../../clients/cli/formatEpisode';
import { formatStatusTable } from '../../clients/cli/formatStatusTable';
import { formatLedger } from '../../clients/cli/ledgerCommand';

const start = Date.UTC(2025, 0, 31, 10, 0, 3);
const episode = (fields: Partial<PartitionEpisode>): PartitionEpisode =>
  PartitionEpisode.fromPartial({ id: 'e', peerId: 'n2', cause: 'injected', startedAtMs: BigInt(start), ...fields });

test('durations, sizes and times', () => {
  expect([0, 420, 4249, 59_999, 65_000, 7_380_000].map(formatMs)).toEqual(['0ms', '420ms', '4.2s', '1m00s', '1m05s', '2h03m']);
  expect([512, 1250, 3.5 * 1024 * 1024].map(formatBytes)).toEqual(['512 B', '1.2 KiB', '3.5 MiB']);
  expect(formatUtc(start)).toBe('2025-01-31 10:00:03Z');
});

test('a ledger row: closed, ongoing, healed but not converged', () => {
  const closed = episode({ healedAtMs: BigInt(start + 4200), convergedAtMs: BigInt(start + 4600), localUpdates: 11n, remoteUpdates: 12n, documentsDiverged: 1n, bytesExchanged: 2048n });
  expect(episodeCells(closed, start + 10_000)).toEqual(['n2', 'injected', '2025-01-31 10:00:03Z', '4.2s', '11', '12', '1', '400ms', '2.0 KiB']);
  expect(episodeCells(episode({}), start + 3000).slice(3, 8)).toEqual(['3.0s (ongoing)', '0', '0', '0', '-']);
  expect(episodeCells(episode({ healedAtMs: BigInt(start + 1000) }), start + 3000)[7]).toBe('pending');
  const lines = formatLedger([{ nodeId: 'n1', address: 'a:1', episodes: [closed] }, { address: 'b:2', error: new Error('down') }], start);
  expect(lines[0]).toMatch(/^NODE\s+PEER\s+CAUSE\s+STARTED \(UTC\)\s+CUT FOR\s+LOCAL UPD\s+REMOTE UPD\s+DOCS DIVERGED\s+CONVERGED IN\s+BYTES$/);
  expect(lines[1]).toMatch(/^n1\s+n2\s+injected\s+2025-01-31 10:00:03Z\s+4\.2s\s+11\s+12\s+1\s+400ms\s+2\.0 KiB$/);
  expect(lines[2]).toBe('? b:2: down');
  expect(formatLedger([{ nodeId: 'n1', address: 'a:1', episodes: [] }], start)).toEqual(['no partition episodes']);
});

test('status shows each link\'s reachable/cut/delay and the recent episodes', () => {
  const peer = { nodeId: 'n2', address: 'a:2', backlogUpdates: 1n, backlogBytes: 35n, lastHeardMsAgo: 7000n };
  const status = StatusResponse.fromPartial({
    nodeId: 'n1',
    role: 'master',
    peers: [
      { ...peer, connected: false, reachable: false, cut: true, delayMs: 200 },
      { ...peer, nodeId: 'n3', connected: true, reachable: true, lastHeardMsAgo: 0n },
    ],
    recentEpisodes: [1, 2, 3, 4].map((i) => episode({ peerId: `n${i}` })),
  });
  const quiet = StatusResponse.fromPartial({ nodeId: 'n2', role: 'master' });
  const lines = formatStatusTable([{ address: 'a:1', ok: true, status }, { address: 'a:2', ok: true, status: quiet }], start + 1000);
  expect(lines).toContain('  -> n2  DISCONNECTED  UNREACHABLE  cut=YES  delay=200ms  backlog=1 updates/35 B  heard 7s ago');
  expect(lines).toContain('  -> n3  connected  reachable  cut=no  delay=0ms  backlog=1 updates/35 B  heard 0s ago');
  expect(lines).toContain('  recent partition episodes (newest first):');
  expect(lines).toContain('    n1  injected  2025-01-31 10:00:03Z  cut 1.0s (ongoing)  converged in -  local=0 remote=0 docs=0 bytes=0 B');
  expect(lines).toContain('    ... 1 more: concord ledger --node n1');
  expect(lines.filter((l) => l.startsWith('    n')).length).toBe(3);
  // A node without episodes has no section: its row is the last line.
  expect(lines[lines.length - 1]).toMatch(/^n2\s+master\s+a:2\s+yes/);
});
