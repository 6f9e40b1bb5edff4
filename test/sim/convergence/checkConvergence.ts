import * as Y from 'yjs';
import { equalBytes } from '../../../services/core/crdt/DigestIndex';
import { DocumentId } from '../../../services/core/crdt/documentId';
import { SimReplica } from './SimReplica';

/**
 * Convergence: after the heal, every replica holds every document with the same rendered JSON,
 * the same state vector and the same state hash (state vector + delete set). Returns one line
 * per document that differs; empty when the replicas agree.
 */
export function checkConvergence(replicas: readonly SimReplica[]): string[] {
  const findings: string[] = [];
  const first = replicas[0];
  if (first === undefined) return findings;
  const ids = new Set<string>();
  for (const r of replicas) for (const id of r.store.ids()) ids.add(id);
  for (const id of [...ids].sort()) {
    const docId = id as DocumentId;
    const ref = view(first, docId);
    for (const r of replicas.slice(1)) {
      const other = view(r, docId);
      const what = ref === undefined || other === undefined
        ? 'presence'
        : ref.json !== other.json ? 'json' : !equalBytes(ref.sv, other.sv) ? 'state vector' : !equalBytes(ref.hash, other.hash) ? 'state hash' : undefined;
      if (what !== undefined) {
        findings.push(`${docId}: ${first.id} and ${r.id} differ in ${what}: ${ref?.json ?? 'absent'} vs ${other?.json ?? 'absent'}`);
        break;
      }
    }
  }
  return findings;
}

interface DocView {
  readonly json: string;
  readonly sv: Uint8Array;
  readonly hash: Uint8Array;
}

function view(r: SimReplica, docId: DocumentId): DocView | undefined {
  const doc = r.store.peek(docId);
  const hash = r.store.stateHash(docId);
  if (doc === undefined || hash === undefined) return undefined;
  return { json: JSON.stringify(r.store.json(docId)), sv: Y.encodeStateVector(doc), hash };
}
