// The leader's queue of ReadIndex requests (Raft thesis §6.4). A request records the commit
// index when it arrived; it is answered once a majority of voters has acknowledged a heartbeat
// sent after it, which proves no newer leader can have committed anything we lack. Requests
// are answered in arrival order: an acknowledgement for a later request covers the earlier
// ones too, because the heartbeat carrying it was sent after them.

import type { NodeId } from './types';

export interface ReadRequest {
  readonly context: string;
  readonly index: number;
  /** Who asked: the leader itself or a follower that forwarded its client's read. */
  readonly from: NodeId;
  readonly acks: Map<NodeId, boolean>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private readonly queue: string[] = [];

  constructor(readonly maxPendingReadRequests: number) {}

  size(): number {
    return this.queue.length;
  }

  full(): boolean {
    return this.queue.length >= this.maxPendingReadRequests;
  }

  /** Adds a request; a repeated context is ignored (the first one will be answered). */
  add(context: string, index: number, from: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { context, index, from, acks: new Map() });
    this.queue.push(context);
  }

  /** Records an acknowledgement; returns the acks so far, or undefined for an unknown context. */
  recvAck(from: NodeId, context: string): ReadonlyMap<NodeId, boolean> | undefined {
    const r = this.pending.get(context);
    if (r === undefined) return undefined;
    r.acks.set(from, true);
    return r.acks;
  }

  /** Removes and returns every request up to and including `context`. */
  advance(context: string): ReadRequest[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    const out: ReadRequest[] = [];
    for (const ctx of done) {
      const r = this.pending.get(ctx);
      this.pending.delete(ctx);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** The newest pending context, carried by every heartbeat so a lost one is retried. */
  lastPendingContext(): string | null {
    return this.queue[this.queue.length - 1] ?? null;
  }

  reset(): void {
    this.pending.clear();
    this.queue.length = 0;
  }
}
