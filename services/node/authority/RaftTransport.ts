import { credentials, Metadata } from '@grpc/grpc-js';
import { Message } from '../../core/consensus';
import { bytesReplacer, bytesReviver } from '../../core/kv/jsonBytes';
import { RaftServiceClient } from '../../../proto/gen/concord/v1/peer';
import { callUnary } from '../callUnary';
import { LinkFaults } from '../LinkFaults';
import { peerChannelOptions, redialAfterMs } from '../peerChannelOptions';

/** Calls in flight per peer; messages queued meanwhile go together in the next call. */
export const inflightCallsMax = 4;
/** Messages queued per peer at most (a peer that does not answer must not grow memory). */
export const backlogMessagesMax = 4096;

export interface VoterAddress {
  readonly id: string;
  readonly address: string;
}

/**
 * Sends the consensus core's messages to the other voters, one unary call per destination and
 * Ready, and tells who was heard from recently (for "which voters can I reach"). Lost calls are
 * fine: Raft retries by itself. Injected link faults apply here as on the document links.
 */
export class RaftTransport {
  private readonly clients = new Map<string, RaftServiceClient>();
  private readonly lastHeard = new Map<string, number>();
  private readonly inflight = new Map<string, number>();
  private readonly backlog = new Map<string, Message[]>();
  private readonly addresses = new Map<string, string>();
  private readonly dialedAt = new Map<string, number>();

  constructor(
    private readonly selfId: string,
    private readonly clusterId: string,
    voters: readonly VoterAddress[],
    private readonly faults: LinkFaults,
    private readonly callDeadlineMs: number,
  ) {
    for (const v of voters) {
      if (v.id === selfId) continue;
      this.addresses.set(v.id, v.address);
      this.clients.set(v.id, new RaftServiceClient(v.address, credentials.createInsecure(), peerChannelOptions));
      this.dialedAt.set(v.id, Date.now());
    }
  }

  /**
   * Queues messages per peer and sends them in batches: at most `inflightCallsMax` calls are in
   * flight per peer, and whatever queues up meanwhile goes in the next call. Under load this
   * coalesces instead of dropping (a dropped append stalls its follower until the leader
   * probes). The backlog is bounded; its oldest messages go first (Raft resends what matters).
   */
  send(messages: readonly Message[]): void {
    const touched = new Set<string>();
    for (const m of messages) {
      if (this.faults.isCut(m.to) || !this.clients.has(m.to)) continue;
      let queue = this.backlog.get(m.to);
      if (queue === undefined) this.backlog.set(m.to, (queue = []));
      queue.push(m);
      touched.add(m.to);
    }
    for (const peer of touched) {
      const queue = this.backlog.get(peer) as Message[];
      if (queue.length > backlogMessagesMax) queue.splice(0, queue.length - backlogMessagesMax);
      this.redialIfStuck(peer);
      this.pump(peer);
    }
  }

  private pump(peer: string): void {
    while ((this.inflight.get(peer) ?? 0) < inflightCallsMax) {
      const queue = this.backlog.get(peer);
      const client = this.clients.get(peer);
      if (queue === undefined || queue.length === 0 || client === undefined || this.faults.isCut(peer)) return;
      this.backlog.set(peer, []);
      const payload = new TextEncoder().encode(JSON.stringify(queue, bytesReplacer));
      const md = new Metadata();
      md.set('concord-node-id', this.selfId);
      this.inflight.set(peer, (this.inflight.get(peer) ?? 0) + 1);
      const go = (): void => {
        callUnary(client.deliver.bind(client), { from: this.selfId, clusterId: this.clusterId, messages: payload }, this.callDeadlineMs, md)
          .then(() => this.heard(peer), () => undefined)
          .finally(() => {
            this.inflight.set(peer, Math.max(0, (this.inflight.get(peer) ?? 1) - 1));
            this.pump(peer);
          });
      };
      const delayMs = this.faults.get(peer).delayMs;
      if (delayMs > 0) setTimeout(go, delayMs);
      else go();
    }
  }


  /**
   * A peer silent for a while gets a new client: the old one may be stuck on a dial whose SYN
   * a cut dropped (the kernel retries it only seconds later), and calls would queue behind it.
   */
  private redialIfStuck(peer: string): void {
    const now = Date.now();
    const address = this.addresses.get(peer);
    if (address === undefined || this.faults.isCut(peer)) return;
    if (now - (this.lastHeard.get(peer) ?? 0) < redialAfterMs || now - (this.dialedAt.get(peer) ?? 0) < redialAfterMs) return;
    this.clients.get(peer)?.close();
    this.clients.set(peer, new RaftServiceClient(address, credentials.createInsecure(), peerChannelOptions));
    this.dialedAt.set(peer, now);
    this.inflight.set(peer, 0);
  }

  /** Decodes a batch received from `from`; undefined when the link to it is cut. */
  receive(from: string, clusterId: string, payload: Uint8Array): Message[] | undefined {
    if (clusterId !== this.clusterId || this.faults.isCut(from) || !this.clients.has(from)) return undefined;
    this.heard(from);
    return JSON.parse(new TextDecoder().decode(payload), bytesReviver) as Message[];
  }

  heard(peer: string): void {
    this.lastHeard.set(peer, Date.now());
  }

  /** Voters (this one included) heard from within `withinMs`. */
  reachable(withinMs: number): string[] {
    const now = Date.now();
    const out = [this.selfId];
    for (const peer of this.clients.keys()) {
      if (!this.faults.isCut(peer) && now - (this.lastHeard.get(peer) ?? 0) < withinMs) out.push(peer);
    }
    return out.sort();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}
