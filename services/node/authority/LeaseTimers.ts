interface Timer {
  expiresAt: number;
  readonly ttlMs: number;
  readonly fencingToken: number;
  proposed: boolean;
  /** Expiry proposals refused so far (see retryExpiry). */
  refusals: number;
}

/**
 * The leader's lease clocks (not replicated, like etcd's lessor): a new leader gives every lease
 * a full TTL from its election, keep-alives renew, and an expired lease is proposed for expiry
 * once (the proposal names the grant's fencing token, so a re-grant is never expired by it).
 */
export class LeaseTimers {
  private readonly timers = new Map<number, Timer>();

  resetAll(leases: readonly { id: number; ttlMs: number; fencingToken: number }[], now: number): void {
    this.timers.clear();
    for (const l of leases) this.renew(l.id, l.ttlMs, l.fencingToken, now);
  }

  renew(id: number, ttlMs: number, fencingToken: number, now: number): void {
    this.timers.set(id, { expiresAt: now + ttlMs, ttlMs, fencingToken, proposed: false, refusals: 0 });
  }

  /**
   * Whether the lease is past its time (its expiry proposed, or about to be): a keep-alive then
   * comes too late, as in etcd, since the expiry will apply and delete its keys whatever it says.
   */
  isExpired(id: number, now: number): boolean {
    const t = this.timers.get(id);
    return t !== undefined && (t.proposed || now >= t.expiresAt);
  }

  /** Milliseconds left before the lease is past its time (0 once it is); undefined when it has no clock here. */
  remainingMs(id: number, now: number): number | undefined {
    const t = this.timers.get(id);
    if (t === undefined) return undefined;
    return t.proposed ? 0 : Math.max(0, t.expiresAt - now);
  }

  /** Leases past their time that have not been proposed for expiry yet. */
  expired(now: number): { id: number; fencingToken: number }[] {
    const out: { id: number; fencingToken: number }[] = [];
    for (const [id, t] of this.timers) {
      if (!t.proposed && now >= t.expiresAt) {
        t.proposed = true;
        out.push({ id, fencingToken: t.fencingToken });
      }
    }
    return out;
  }

  /** The expiry proposal of a lease past its time was refused: `expired` names it again. Returns the refusals so far. */
  retryExpiry(id: number): number {
    const t = this.timers.get(id);
    if (t === undefined) return 0;
    t.proposed = false;
    t.refusals++;
    return t.refusals;
  }

  prune(live: ReadonlySet<number>): void {
    for (const id of this.timers.keys()) if (!live.has(id)) this.timers.delete(id);
  }

  clear(): void {
    this.timers.clear();
  }
}
