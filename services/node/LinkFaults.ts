/** A fault on this node's links to one peer. */
export interface LinkFault {
  readonly cut: boolean;
  readonly delayMs: number;
}

export type LinkFaultListener = (peerId: string, fault: LinkFault) => void;

const none: LinkFault = { cut: false, delayMs: 0 };

/**
 * Faults injected at the peer transport (admin API, the demo, tests): a cut link refuses and
 * drops traffic both ways; a delayed link holds every message this node sends to the peer.
 */
export class LinkFaults {
  private readonly faults = new Map<string, LinkFault>();
  private readonly listeners = new Set<LinkFaultListener>();

  get(peerId: string): LinkFault {
    return this.faults.get(peerId) ?? none;
  }

  isCut(peerId: string): boolean {
    return this.get(peerId).cut;
  }

  set(peerId: string, fault: LinkFault): void {
    const before = this.get(peerId);
    if (fault.cut || fault.delayMs > 0) this.faults.set(peerId, fault);
    else this.faults.delete(peerId);
    if (before.cut !== fault.cut || before.delayMs !== fault.delayMs) this.listeners.forEach((l) => l(peerId, fault));
  }

  all(): Map<string, LinkFault> {
    return new Map(this.faults);
  }

  onChange(listener: LinkFaultListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
