import { StorageEngine } from '../storage/StorageEngine';

/** One partition episode between this node and one peer, as this node saw it. */
export interface Episode {
  readonly id: string;
  readonly peerId: string;
  readonly cause: 'injected' | 'detected';
  readonly startedAtMs: number;
  healedAtMs: number;
  convergedAtMs: number;
  localUpdates: number;
  remoteUpdates: number;
  readonly documents: Set<string>;
  documentsExchanged: number;
  bytesExchanged: number;
}

const keepEpisodes = 200;
const prefix = 'p:episode:';

/**
 * The partition ledger: episodes open when the failure detector loses a peer it had reached
 * (or an admin cut starts), count the updates this node accepts meanwhile, close at the heal,
 * and record how long the first anti-entropy round after the heal took to converge. Every
 * change is written to storage so the history survives restarts.
 */
export class PartitionLedger {
  private readonly episodes: Episode[] = [];
  private readonly reachable = new Map<string, boolean>();

  constructor(
    private readonly engine: StorageEngine,
    private readonly now: () => number,
    private readonly log: (msg: string) => void,
  ) {}

  load(): void {
    for (const { value } of this.engine.range({ gte: prefix, lt: `${prefix}\uffff` })) {
      const raw = JSON.parse(new TextDecoder().decode(value)) as Omit<Episode, 'documents'> & { documents: string[] };
      const ep: Episode = { ...raw, documents: new Set(raw.documents) };
      // An episode still open when the node stopped ends at the restart: the link is re-judged.
      if (ep.healedAtMs === 0) ep.healedAtMs = this.now();
      this.episodes.push(ep);
    }
    this.episodes.sort((a, b) => a.startedAtMs - b.startedAtMs);
  }

  /**
   * Feeds the failure detector's current view of one peer. A detected episode starts when a
   * peer that was reachable stops being so; an injected cut starts one at once, whatever the
   * detector saw before.
   */
  observe(peerId: string, reachable: boolean, injectedCut: boolean): void {
    const was = this.reachable.get(peerId);
    this.reachable.set(peerId, reachable);
    const open = this.openEpisode(peerId);
    if (!reachable && open === undefined && (injectedCut || was === true)) {
      const startedAtMs = this.now();
      const ep: Episode = {
        id: `${startedAtMs.toString(36)}-${peerId}`, peerId, cause: injectedCut ? 'injected' : 'detected', startedAtMs,
        healedAtMs: 0, convergedAtMs: 0, localUpdates: 0, remoteUpdates: 0, documents: new Set(), documentsExchanged: 0, bytesExchanged: 0,
      };
      this.episodes.push(ep);
      while (this.episodes.length > keepEpisodes) this.drop(this.episodes.shift() as Episode);
      this.persist(ep);
    } else if (reachable && !injectedCut && open !== undefined) {
      open.healedAtMs = this.now();
      this.persist(open);
    }
  }

  onLocalUpdate(docId: string): void {
    for (const ep of this.episodes) {
      if (ep.healedAtMs !== 0) continue;
      ep.localUpdates++;
      ep.documents.add(docId);
    }
  }

  onRemoteUpdate(peerId: string, docId: string): void {
    const ep = this.latest(peerId);
    if (ep === undefined || ep.healedAtMs === 0 || ep.convergedAtMs !== 0) return;
    ep.remoteUpdates++;
    ep.documents.add(docId);
  }

  /**
   * The first completed anti-entropy round after a heal marks the episode converged. A round
   * that started after an earlier episode's heal converges that one too (a short detected
   * episode right after a heal must not leave the injected one before it waiting forever).
   */
  onRoundDone(peerId: string, roundStartedAtMs: number, documents: number, bytes: number): void {
    const latest = this.latest(peerId);
    for (const ep of this.episodes) {
      if (ep.peerId !== peerId || ep.convergedAtMs !== 0) continue;
      if (ep.healedAtMs === 0) {
        // A round that completed proves the link works, even if the detector has not noticed yet.
        if (ep !== latest || roundStartedAtMs < ep.startedAtMs) continue;
        ep.healedAtMs = roundStartedAtMs;
        this.reachable.set(peerId, true);
      } else if (ep !== latest && ep.healedAtMs > roundStartedAtMs) continue;
      ep.convergedAtMs = this.now();
      ep.documentsExchanged = documents;
      ep.bytesExchanged = bytes;
      this.persist(ep);
    }
  }

  recent(limit: number): Episode[] {
    return this.episodes.slice(-limit).reverse();
  }

  private openEpisode(peerId: string): Episode | undefined {
    const ep = this.latest(peerId);
    return ep !== undefined && ep.healedAtMs === 0 ? ep : undefined;
  }

  private latest(peerId: string): Episode | undefined {
    for (let i = this.episodes.length - 1; i >= 0; i--) if ((this.episodes[i] as Episode).peerId === peerId) return this.episodes[i];
    return undefined;
  }

  private persist(ep: Episode): void {
    const value = new TextEncoder().encode(JSON.stringify({ ...ep, documents: [...ep.documents].slice(0, 1000) }));
    this.engine.write([{ type: 'put', key: `${prefix}${ep.startedAtMs.toString().padStart(15, '0')}-${ep.peerId}`, value }])
      .catch((err: unknown) => this.log(`ledger write failed: ${String(err)}`));
  }

  private drop(ep: Episode): void {
    this.engine.write([{ type: 'del', key: `${prefix}${ep.startedAtMs.toString().padStart(15, '0')}-${ep.peerId}` }])
      .catch((err: unknown) => this.log(`ledger delete failed: ${String(err)}`));
  }
}
