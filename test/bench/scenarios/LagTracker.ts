import { performance } from 'node:perf_hooks';
import { percentile } from '../stats';

/**
 * Replication lag of sampled writers: each writer writes sequence numbers 1, 2, 3... to its own
 * key through one origin node; observers on every node report the highest sequence they have
 * seen applied. A write's lag is the time from its acknowledgement until the last of the other
 * nodes applied it (0 when all had it before the ack, as ALL promises).
 */
export class LagTracker {
  private readonly seen = new Map<string, { seqs: number[]; times: number[] }>();
  private acks: { worker: number; seq: number; at: number; origin: number }[] = [];

  constructor(private readonly nodes: number) {}

  /** An observer saw `seq` of `worker` applied on `node` (times are performance.now()). */
  observe(node: number, worker: number, seq: number, at = performance.now()): void {
    const key = `${node}/${worker}`;
    let s = this.seen.get(key);
    if (s === undefined) this.seen.set(key, (s = { seqs: [], times: [] }));
    if (s.seqs.length > 0 && seq <= (s.seqs[s.seqs.length - 1] as number)) return;
    s.seqs.push(seq);
    s.times.push(at);
  }

  acked(worker: number, seq: number, at: number, origin: number): void {
    this.acks.push({ worker, seq, at, origin });
  }

  /** Resolves once every node has seen every acked write (or after `timeoutMs`). */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && this.unseen() > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Lag percentiles of the writes acked since the last reset, then forgets them. */
  takeSummary(): Record<string, number> {
    const lags: number[] = [];
    let unseen = 0;
    for (const a of this.acks) {
      let last = a.at;
      for (let node = 0; node < this.nodes; node++) {
        if (node === a.origin) continue;
        const t = this.firstAt(node, a.worker, a.seq);
        if (t === undefined) {
          unseen++;
          last = Number.NaN;
          break;
        }
        last = Math.max(last, t);
      }
      if (Number.isFinite(last)) lags.push(last - a.at);
    }
    this.acks = [];
    return { lagP50Ms: percentile(lags, 50), lagP99Ms: percentile(lags, 99), lagSamples: lags.length, lagUnseen: unseen };
  }

  private unseen(): number {
    return this.acks.filter((a) => {
      for (let node = 0; node < this.nodes; node++) if (node !== a.origin && this.firstAt(node, a.worker, a.seq) === undefined) return true;
      return false;
    }).length;
  }

  /** When `node` first had `seq` (or a later one) of `worker`. */
  private firstAt(node: number, worker: number, seq: number): number | undefined {
    const s = this.seen.get(`${node}/${worker}`);
    if (s === undefined || s.seqs.length === 0 || (s.seqs[s.seqs.length - 1] as number) < seq) return undefined;
    let lo = 0;
    let hi = s.seqs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((s.seqs[mid] as number) >= seq) hi = mid;
      else lo = mid + 1;
    }
    return s.times[lo];
  }
}
