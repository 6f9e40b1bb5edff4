import { KeyRangeIndex } from '../../core/kv/KeyRangeIndex';
import { KvEvent } from '../../core/kv/types';

/** One KV watch as the hub sees it: a key or a range, and where its events go. */
export interface KvWatcher {
  readonly key: string;
  /** '' = just `key`; '\0' = every key >= `key`; else keys in [key, rangeEnd). */
  readonly rangeEnd: string;
  /** The events of one revision that fall in the watch, in the revision's order. */
  deliver(revision: number, events: readonly KvEvent[]): void;
  /** The node lost its majority: the watch ends with this error (the client resumes elsewhere). */
  fail(err: unknown): void;
}

/** What the hub needs of the authoritative node. */
export interface KvWatchSource {
  onRevision(listener: (revision: number, events: readonly KvEvent[]) => void): () => void;
  /** Throws (UNAVAILABLE, naming the reachable voters) when this node is cut off from a majority. */
  assertQuorumReachable(): void;
}

export interface KvWatchHubOptions {
  /** Between quorum checks; two failed checks in a row end every watch. */
  readonly checkIntervalMs?: number;
  readonly setInterval?: (fn: () => void, ms: number) => unknown;
  readonly clearInterval?: (handle: unknown) => void;
}

/** True when `key` falls in the watch's key or range. */
export function watches(w: Pick<KvWatcher, 'key' | 'rangeEnd'>, key: string): boolean {
  return w.rangeEnd === '' ? key === w.key : key >= w.key && (w.rangeEnd === '\u0000' || key < w.rangeEnd);
}

/**
 * The KV watches of one node, fed by one revision listener. A watch on one key is found by its
 * key, and a range watch through an index of ranges (KeyRangeIndex: prefixes by lookup), so a put
 * costs the watches that hold its key, not every watch on the node (as etcd keeps single-key
 * watchers in a map beside its interval tree of ranges). One
 * quorum check serves them all: a node cut off from the majority applies nothing new, so after
 * two failed checks in a row (a blip does not end them) every watch ends with UNAVAILABLE and
 * its client resumes on a node that can follow the log.
 */
export class KvWatchHub {
  private readonly byKey = new Map<string, Set<KvWatcher>>();
  private readonly ranges = new KeyRangeIndex<KvWatcher>();
  private unsubscribe: (() => void) | undefined;
  private timer: unknown;
  private strikes = 0;
  private readonly checkIntervalMs: number;
  private readonly setIntervalFn: (fn: () => void, ms: number) => unknown;
  private readonly clearIntervalFn: (handle: unknown) => void;

  constructor(private readonly source: KvWatchSource, opts: KvWatchHubOptions = {}) {
    this.checkIntervalMs = opts.checkIntervalMs ?? 500;
    this.setIntervalFn = opts.setInterval ?? ((fn, ms) => setInterval(fn, ms));
    this.clearIntervalFn = opts.clearInterval ?? ((h) => clearInterval(h as NodeJS.Timeout));
  }

  /** Watches registered now. */
  get size(): number {
    let n = this.ranges.size;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  /** Registers a watch; the returned function removes it (once; later calls do nothing). */
  add(w: KvWatcher): () => void {
    if (w.rangeEnd === '') {
      let set = this.byKey.get(w.key);
      if (set === undefined) this.byKey.set(w.key, (set = new Set()));
      set.add(w);
    } else {
      this.ranges.add(w.key, w.rangeEnd, w);
    }
    if (this.unsubscribe === undefined) this.start();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      if (w.rangeEnd === '') {
        const set = this.byKey.get(w.key);
        set?.delete(w);
        if (set?.size === 0) this.byKey.delete(w.key);
      } else {
        this.ranges.delete(w.key, w.rangeEnd, w);
      }
      if (this.byKey.size === 0 && this.ranges.size === 0) this.stop();
    };
  }

  private start(): void {
    this.unsubscribe = this.source.onRevision((revision, events) => this.dispatch(revision, events));
    this.strikes = 0;
    this.timer = this.setIntervalFn(() => this.check(), this.checkIntervalMs);
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.clearIntervalFn(this.timer);
    this.timer = undefined;
  }

  private dispatch(revision: number, events: readonly KvEvent[]): void {
    const out = new Map<KvWatcher, KvEvent[]>();
    let e: KvEvent | undefined;
    const to = (w: KvWatcher): void => {
      const list = out.get(w);
      if (list === undefined) out.set(w, [e as KvEvent]);
      else list.push(e as KvEvent);
    };
    for (e of events) {
      this.byKey.get(e.kv.key)?.forEach(to);
      if (this.ranges.size > 0) this.ranges.forEachHolding(e.kv.key, to);
    }
    for (const [w, mine] of out) w.deliver(revision, mine);
  }

  private check(): void {
    try {
      this.source.assertQuorumReachable();
      this.strikes = 0;
    } catch (err) {
      if (++this.strikes < 2) return;
      this.strikes = 0;
      // Copied first: a failing watch removes itself. Pushed one by one: spreading a set of
      // 130,000 watches on one key as arguments overflows the stack.
      const all = [...this.ranges.all()];
      for (const set of this.byKey.values()) for (const w of set) all.push(w);
      for (const w of all) w.fail(err);
    }
  }
}
