import { mergeVersions } from './mergeVersions';

// Session consistency for a client behind a round robin: remember, per document, the union of
// every version token this client has written or read, and ask any node for at least that on
// the next read. The node waits (within the deadline) or fetches from peers until it has it,
// which gives read-your-writes and monotonic reads across nodes.

export class SessionVersions {
  private readonly byDocument = new Map<string, Uint8Array>();

  /** Records a token returned by a write, read or watch event of `documentId`. */
  observe(documentId: string, version: Uint8Array): void {
    if (version.length === 0) return;
    this.byDocument.set(documentId, mergeVersions(this.byDocument.get(documentId), version));
  }

  /** The minimum version to send on the next read, merged with any the caller asked for. */
  minVersion(documentId: string, requested?: Uint8Array): Uint8Array | undefined {
    const seen = this.byDocument.get(documentId);
    if (requested === undefined || requested.length === 0) return seen;
    return mergeVersions(seen, requested);
  }

  forget(documentId: string): void {
    this.byDocument.delete(documentId);
  }
}
