/** Documents one side names at most (and the bytes of their ids): past either, it names none. */
export const owedDocumentsMax = 50_000;
export const owedIdBytesMax = 1 << 20;

/** What one side of a link says the other lacks: its owed documents, and whether that is all. */
export interface OwedList {
  readonly documents: readonly string[];
  /** True only when the list is known to name every such document. */
  readonly complete: boolean;
}

/** A side that names nothing (a list of unknown completeness). */
export const nothingOwed: OwedList = { documents: [], complete: false };

/** One anti-entropy round's share of the owed documents (see `OwedDocuments.plan`). */
export interface RoundPlan {
  /** Pull exactly `documents` (the peer's list) instead of comparing digests. */
  readonly directed: boolean;
  readonly documents: readonly string[];
  /** Owed documents a digest round took (it delivers them); none for a directed round. */
  readonly taken: ReadonlySet<string>;
  readonly peer: OwedList | undefined;
  readonly overflowsAtStart: number;
}

/**
 * The documents a replication link owes its peer: those whose changes it dropped from the push
 * queue (a long cut, a full queue) and that only anti-entropy will deliver now. A link has
 * tracked every drop since its process started; once a full digest round with the peer has
 * completed on top of that (it covered whatever an earlier life of this node left undelivered),
 * the set names every change this node accepted that the peer lacks, beyond the queue.
 *
 * A node names its list (owed and queued documents) in the hello it answers a reconnecting peer
 * with. When both lists are complete, each side's round after the heal is directed: it pulls
 * the documents the other named, and compares no digests (no digest round trips or bytes,
 * whatever the number of documents that did not change). A document leaves the owed set when
 * the peer pulls it (`pulled`). Otherwise (a restart, an overflow) the round compares digests
 * and takes the whole set. Content a third node originated reaches each side from that node,
 * or from the periodic digest rounds.
 */
export class OwedDocuments {
  private owed = new Set<string>();
  private idBytes = 0;
  private complete = false;
  private overflows = 0;
  private peerList: OwedList | undefined;
  /** What a running digest round took: still owed until it is done, so still named. */
  private inFlight: ReadonlySet<string> = new Set();

  /** Documents owed now (not counting the queue). */
  get size(): number {
    return this.owed.size + this.inFlight.size;
  }

  /** Whether the set names every owed document (see the class comment). */
  get isComplete(): boolean {
    return this.complete;
  }

  /** The queued changes of these documents were dropped: the peer lacks them. */
  dropped(docIds: Iterable<string>): void {
    for (const id of docIds) {
      if (this.owed.has(id)) continue;
      this.owed.add(id);
      this.idBytes += id.length;
      if (this.owed.size > owedDocumentsMax || this.idBytes > owedIdBytesMax) {
        // Too many to name: forget them; the next full digest round finds them.
        this.owed = new Set();
        this.idBytes = 0;
        this.complete = false;
        this.overflows++;
        return;
      }
    }
  }

  /** The peer fetched our diffs for these documents: it holds what we owed it. */
  pulled(docIds: Iterable<string>): void {
    for (const id of docIds) {
      if (this.owed.delete(id)) this.idBytes -= id.length;
    }
  }

  /** A (re)connect starts: what the peer said on an earlier connection no longer holds. */
  connecting(): void {
    this.peerList = undefined;
  }

  /** The peer's hello named what it owes us. */
  peerOwes(list: OwedList): void {
    this.peerList = list;
  }

  /** What this side owes the peer, for its hello: owed (in a round or not) and queued documents. */
  list(queued: Iterable<string>): OwedList {
    const documents = new Set([...this.owed, ...this.inFlight]);
    let bytes = this.idBytes;
    for (const id of this.inFlight) bytes += id.length;
    for (const id of queued) {
      if (documents.has(id)) continue;
      documents.add(id);
      bytes += id.length;
    }
    if (documents.size > owedDocumentsMax || bytes > owedIdBytesMax) return nothingOwed;
    return { documents: [...documents], complete: this.complete };
  }

  /**
   * Plans a round that starts now. It is directed when the peer named its list on this
   * connection and both lists are complete: it pulls the peer's documents and takes none of
   * ours (they leave as the peer pulls them). Otherwise it is a digest round, which takes the
   * owed set. The peer's list is used once.
   */
  plan(): RoundPlan {
    const peer = this.peerList;
    this.peerList = undefined;
    const overflowsAtStart = this.overflows;
    if (this.complete && peer !== undefined && peer.complete) {
      return { directed: true, documents: [...new Set(peer.documents)], taken: new Set(), peer, overflowsAtStart };
    }
    const taken = this.owed;
    this.owed = new Set();
    this.idBytes = 0;
    this.inFlight = taken;
    return { directed: false, documents: [], taken, peer, overflowsAtStart };
  }

  /**
   * The round ended. Done: a digest round delivered what it took, and every document that
   * differed, except those it left to the peer's own round to pull that the peer had not pulled
   * yet (`leftToPeer`): those are owed (again, or for the first time: after a restart the set
   * may not have named them), and without an overflow meanwhile the set is complete. Failed or
   * refused (a round with the peer was running): what it took is owed again, and a refused one
   * keeps the peer's list for the round that runs next.
   */
  finished(plan: RoundPlan, outcome: 'done' | 'failed' | 'refused', leftToPeer: readonly string[] = []): void {
    if (this.inFlight === plan.taken) this.inFlight = new Set();
    if (outcome === 'done') {
      this.dropped(leftToPeer);
      if (!plan.directed && this.overflows === plan.overflowsAtStart) this.complete = true;
      return;
    }
    this.dropped(plan.taken);
    if (outcome === 'refused' && this.peerList === undefined) this.peerList = plan.peer;
  }
}
