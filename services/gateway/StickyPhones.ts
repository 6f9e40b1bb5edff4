// Which node each phone is stuck to. A phone stays on its node while that node is healthy, so
// its session (and, in the demo, its side of a split) is stable; a new phone, or one whose node
// went down, goes to the healthy node serving the fewest phones. A phone silent for ttlMs is
// forgotten (open phones call every few seconds), so the map does not grow without bound.

export class StickyPhones {
  private readonly phones = new Map<string, { node: string; seen: number }>();

  constructor(private readonly ttlMs = 60_000) {}

  /** The node for `phone` among `healthy` (ids), remembering the choice; undefined if none. */
  pick(phone: string, healthy: readonly string[], now = Date.now()): string | undefined {
    const stuck = this.phones.get(phone)?.node;
    const load = (id: string): number => [...this.phones.values()].filter((s) => s.node === id).length;
    const chosen = stuck !== undefined && healthy.includes(stuck)
      ? stuck
      : healthy.reduce<string | undefined>((best, id) => (best === undefined || load(id) < load(best) ? id : best), undefined);
    if (chosen !== undefined) this.phones.set(phone, { node: chosen, seen: now });
    return chosen;
  }

  forgetSilent(now = Date.now()): void {
    for (const [phone, s] of this.phones) if (s.seen < now - this.ttlMs) this.phones.delete(phone);
  }

  /** Phone -> node id, sorted by phone. */
  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.phones.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([p, s]) => [p, s.node]));
  }
}
