import * as Y from 'yjs';
import { decodeVersion, versionCovered } from '../../../services/core/crdt/versionToken';
import { OpHistory } from './OpHistory';

/**
 * Read-your-writes after the heal: the version token returned with every acknowledged write
 * names a state the converged document contains. A token that names a change the cluster lost
 * (one that was only in a crashed node's memory) makes every later read with it wait until its
 * deadline, on every node, forever.
 */
export function checkVersionTokens(history: OpHistory, finalDoc: (docId: string) => Y.Doc | undefined): string[] {
  const findings: string[] = [];
  for (const w of history.writes) {
    if (!w.acked || w.version === undefined) continue;
    const doc = finalDoc(w.docId);
    const version = decodeVersion(w.version);
    if (doc !== undefined && versionCovered(doc, version)) continue;
    const have = doc === undefined ? new Map<number, number>() : Y.decodeStateVector(Y.encodeStateVector(doc));
    const missing = [...version.sv].filter(([client, clock]) => (have.get(client) ?? 0) < clock).map(([c, k]) => `${c}:${have.get(c) ?? 0}<${k}`);
    findings.push(`${w.docId}: the version token of acknowledged write ${w.seq} (on ${w.replicaId}) is never reached; missing ${missing.join(' ') || 'deletes'}`);
  }
  return findings;
}
