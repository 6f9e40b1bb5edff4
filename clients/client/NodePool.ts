import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { NodeEndpoint } from './NodeEndpoint';

// The set of nodes a client balances over. Round robin over the healthy ones; a node that
// failed with UNAVAILABLE, could not be connected to, or reported NOT_SERVING is skipped for a
// cool-down, then re-probed in the background with grpc.health.v1 Check until it is SERVING
// again. Down nodes are still used as a last resort when no healthy node is left untried,
// because the cool-down is a guess and an answer from a recovered node beats a certain error.
// A node that refused a kind of call for its role (a replica asked for a write, a witness for a
// document: FAILED_PRECONDITION, not applied) is skipped for that kind only, for a while: it
// still serves the others (a replica's reads).

/** Kinds of call a node may refuse for its role (see markRefuses). */
export const callPurpose = { documentWrite: 'documents.write', documentRead: 'documents.read', kv: 'kv' } as const;

/** How long a node that refused a kind of call for its role is skipped for that kind. */
export const roleRefusalMs = 60_000;

export interface NodePoolOptions {
  credentials: ChannelCredentials;
  channelOptions: ChannelOptions;
  /** How long a failed node is skipped before the first background health probe. */
  cooldownMs: number;
  /** Deadline of one background health probe. */
  probeDeadlineMs: number;
  /** When > 0, healthy nodes are also probed this often, so NOT_SERVING is seen before a call fails. */
  healthCheckIntervalMs: number;
}

export class NodePool {
  readonly endpoints: readonly NodeEndpoint[];
  private readonly down = new Set<NodeEndpoint>();
  /** Per kind of call (ConcordClient's purposes), the nodes that refused it for their role, until when. */
  private readonly refusals = new Map<string, Map<NodeEndpoint, number>>();
  // At most one pending probe per node: a new schedule replaces the old one.
  private readonly timers = new Map<NodeEndpoint, NodeJS.Timeout>();
  private cursor = 0;
  private closed = false;

  constructor(
    addresses: readonly string[],
    private readonly options: NodePoolOptions,
  ) {
    if (addresses.length === 0) throw new RangeError('at least one node address is required');
    this.endpoints = [...new Set(addresses)].map((a) => new NodeEndpoint(a, options.credentials, options.channelOptions));
    if (options.healthCheckIntervalMs > 0) {
      for (const endpoint of this.endpoints) this.schedule(endpoint, options.healthCheckIntervalMs);
    }
  }

  /**
   * The next node in round-robin order that is not in `tried`; healthy nodes first, and for
   * `purpose`, nodes that did not refuse it for their role.
   */
  next(tried: ReadonlySet<NodeEndpoint>, purpose?: string): NodeEndpoint | undefined {
    const count = this.endpoints.length;
    let fallback: NodeEndpoint | undefined;
    for (let step = 0; step < count; step++) {
      const endpoint = this.endpoints[(this.cursor + step) % count];
      if (endpoint === undefined || tried.has(endpoint)) continue;
      if (this.down.has(endpoint) || this.refuses(endpoint, purpose)) {
        fallback ??= endpoint;
        continue;
      }
      this.cursor = (this.cursor + step + 1) % count;
      return endpoint;
    }
    return fallback;
  }

  find(address: string): NodeEndpoint | undefined {
    return this.endpoints.find((endpoint) => endpoint.address === address);
  }

  isHealthy(endpoint: NodeEndpoint): boolean {
    return !this.down.has(endpoint);
  }

  /** `endpoint` refused `purpose` for its role: skip it for that kind of call for a while. */
  markRefuses(endpoint: NodeEndpoint, purpose: string): void {
    let nodes = this.refusals.get(purpose);
    if (nodes === undefined) this.refusals.set(purpose, (nodes = new Map()));
    nodes.set(endpoint, Date.now() + roleRefusalMs);
  }

  /** Whether `endpoint` refused `purpose` for its role lately. */
  refuses(endpoint: NodeEndpoint, purpose: string | undefined): boolean {
    if (purpose === undefined) return false;
    const until = this.refusals.get(purpose)?.get(endpoint);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.refusals.get(purpose)?.delete(endpoint);
    return false;
  }

  /** Skips `endpoint` until a background probe finds it SERVING. */
  markDown(endpoint: NodeEndpoint): void {
    if (this.closed || this.down.has(endpoint)) return;
    this.down.add(endpoint);
    this.schedule(endpoint, this.options.cooldownMs);
  }

  /** A call succeeded on `endpoint`, which proves it is back whatever the probe schedule says. */
  markUp(endpoint: NodeEndpoint): void {
    this.down.delete(endpoint);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const endpoint of this.endpoints) endpoint.close();
  }

  private schedule(endpoint: NodeEndpoint, delayMs: number): void {
    clearTimeout(this.timers.get(endpoint));
    const timer = setTimeout(() => {
      this.timers.delete(endpoint);
      void this.probe(endpoint);
    }, delayMs);
    // Probes must never keep a finished CLI or test process alive.
    timer.unref();
    this.timers.set(endpoint, timer);
  }

  private async probe(endpoint: NodeEndpoint): Promise<void> {
    const result = await endpoint.probe(this.options.probeDeadlineMs);
    if (this.closed) return;
    if (result === 'SERVING') this.down.delete(endpoint);
    else this.down.add(endpoint);
    if (this.down.has(endpoint)) this.schedule(endpoint, this.options.cooldownMs);
    else if (this.options.healthCheckIntervalMs > 0) this.schedule(endpoint, this.options.healthCheckIntervalMs);
  }
}
