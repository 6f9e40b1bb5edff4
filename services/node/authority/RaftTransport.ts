import { type ChannelCredentials, ClientWritableStream, credentials as grpcCredentials, Metadata } from '@grpc/grpc-js';
import { Message } from '../../core/consensus';
import { RaftBatch, RaftMessage, RaftServiceClient } from '../../../proto/gen/concord/v1/raft';
import { LinkFaults } from '../LinkFaults';
import { connectionUp, nodeIdHeader, peerChannelOptions, redialAfterMs } from '../peerChannelOptions';
import { fragmentRaftBatch, messageBytesBound } from './fragmentRaftBatch';
import { messageFromProto, messageToProto } from './raftCodec';
import { RaftClient } from '../peerClients';

const emptyBytes = new Uint8Array(0);

/**
 * Stream metadata naming the KV log formats this node reads ("protobuf": it also reads JSON).
 * Versions before protobuf entries send none; a leader writes protobuf only once every other
 * voter has sent it (AuthorityNode.kvLogFormat).
 */
export const kvLogFormatsHeader = 'concord-kv-log-formats';

/**
 * Stream metadata saying this node reassembles fragmented batches (RaftBatch.fragment). A batch
 * goes to a peer in fragments only once the peer's own stream said so: a version before
 * fragments would read a fragment as an empty batch and drop it without a word.
 */
export const batchFragmentsHeader = 'concord-raft-batch-fragments';

/** Messages queued per peer at most (a peer that does not drain must not grow memory). */
export const backlogMessagesMax = 4096;

export interface VoterAddress {
  readonly id: string;
  readonly address: string;
}

interface PeerLinkState {
  readonly address: string;
  client: RaftServiceClient;
  dialedAt: number;
  /** The open stream to the peer; undefined until the next send opens one. */
  call: ClientWritableStream<RaftBatch> | undefined;
  /** The stream's buffer is full: messages wait in `backlog` until it drains. */
  blocked: boolean;
  backlog: Message[];
}

/**
 * Sends the consensus core's messages to the other voters over one long-lived client stream
 * per peer (messages keep their order, no per-message call setup), and tells who was heard
 * from recently (for "which voters can I reach"). While a stream's buffer is full, messages
 * queue and go together in the next write (bounded; the oldest go first). Lost messages are
 * fine: Raft resends what matters. Injected link faults apply here as on the document links.
 */
export class RaftTransport {
  private readonly peers = new Map<string, PeerLinkState>();
  private readonly lastHeard = new Map<string, number>();
  /** Peers whose consensus stream said they reassemble fragments (see batchFragmentsHeader). */
  private readonly readsFragments = new Set<string>();
  private closed = false;

  constructor(
    private readonly selfId: string,
    private readonly clusterId: string,
    voters: readonly VoterAddress[],
    private readonly faults: LinkFaults,
    /** How to dial the other voters (mutual TLS when the cluster uses it; default insecure). */
    private readonly credentials: ChannelCredentials = grpcCredentials.createInsecure(),
  ) {
    const now = Date.now();
    for (const v of voters) {
      if (v.id === selfId) continue;
      this.peers.set(v.id, { address: v.address, client: this.dial(v.address), dialedAt: now, call: undefined, blocked: false, backlog: [] });
    }
  }

  send(messages: readonly Message[]): void {
    const touched = new Set<PeerLinkState>();
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (peer === undefined || this.faults.isCut(m.to)) continue;
      peer.backlog.push(m);
      touched.add(peer);
    }
    for (const [id, peer] of this.peers) {
      if (!touched.has(peer)) continue;
      if (peer.backlog.length > backlogMessagesMax) peer.backlog.splice(0, peer.backlog.length - backlogMessagesMax);
      this.redialIfStuck(id, peer);
      this.flush(id, peer);
    }
  }

  private flush(id: string, peer: PeerLinkState): void {
    if (this.closed || peer.blocked || peer.backlog.length === 0 || this.faults.isCut(id)) return;
    let bound = 0;
    for (const m of peer.backlog) bound += messageBytesBound(m);
    const batch: RaftBatch = { from: this.selfId, clusterId: this.clusterId, messages: peer.backlog.map(messageToProto), fragment: emptyBytes, fragmentLast: false };
    peer.backlog = [];
    // A batch over one gRPC message's limit (a large snapshot) goes as fragments, in order,
    // to a peer that reassembles them; whole to one that does not (as before fragments).
    const parts = this.readsFragments.has(id) ? fragmentRaftBatch(batch, bound) : [batch];
    const delayMs = this.faults.get(id).delayMs;
    if (delayMs > 0) setTimeout(() => this.write(id, peer, parts), delayMs);
    else this.write(id, peer, parts);
  }

  private write(id: string, peer: PeerLinkState, parts: readonly RaftBatch[]): void {
    if (this.closed || this.faults.isCut(id)) return;
    const call = peer.call ?? this.open(peer);
    let room = true;
    for (const part of parts) room = call.write(part);
    if (!room) {
      peer.blocked = true;
      call.once('drain', () => {
        if (peer.call !== call) return;
        peer.blocked = false;
        this.flush(id, peer);
      });
    }
  }

  private open(peer: PeerLinkState): ClientWritableStream<RaftBatch> {
    const md = new Metadata();
    md.set(nodeIdHeader, this.selfId);
    md.set(kvLogFormatsHeader, 'protobuf');
    md.set(batchFragmentsHeader, 'yes');
    const call = peer.client.stream(md, () => {
      // The stream ended (peer restarted, connection lost, cancelled): the next send opens a new one.
      if (peer.call === call) {
        peer.call = undefined;
        peer.blocked = false;
      }
    });
    peer.call = call;
    return call;
  }

  private dial(address: string): RaftServiceClient {
    return new RaftClient(address, this.credentials, peerChannelOptions);
  }

  /**
   * A peer silent for a while gets a new client: the old one may be stuck on a dial whose SYN
   * a cut dropped (the kernel retries it only seconds later), and writes would queue behind it.
   * Unless its connection is up (see connectionUp): a cut above the transport leaves it up, and
   * a new client would pay a TCP and HTTP/2 handshake after the heal.
   */
  private redialIfStuck(id: string, peer: PeerLinkState): void {
    const now = Date.now();
    if (this.faults.isCut(id)) return;
    if (now - (this.lastHeard.get(id) ?? 0) < redialAfterMs || now - peer.dialedAt < redialAfterMs) return;
    if (connectionUp(peer.client)) return;
    peer.call?.cancel();
    peer.client.close();
    peer.client = this.dial(peer.address);
    peer.dialedAt = now;
    peer.call = undefined;
    peer.blocked = false;
  }

  /**
   * Decodes a batch received from `from` (throws invalid-argument when malformed); undefined
   * when it is not for this cluster, comes from a non-voter, or the link to it is cut.
   */
  receive(from: string, clusterId: string, messages: readonly RaftMessage[]): Message[] | undefined {
    const decoded = messages.map(messageFromProto);
    if (clusterId !== this.clusterId || this.faults.isCut(from) || !this.peers.has(from)) return undefined;
    this.heard(from);
    return decoded.filter((m) => m.to === this.selfId && m.from === from);
  }

  private heard(peer: string): void {
    this.lastHeard.set(peer, Date.now());
  }

  /** A peer's consensus stream said whether it reassembles fragmented batches. */
  notePeerReadsFragments(peerId: string, reads: boolean): void {
    if (reads) this.readsFragments.add(peerId);
    else this.readsFragments.delete(peerId);
  }

  /** The client this transport uses for `peerId` now (whether a redial happened). */
  clientOf(peerId: string): RaftServiceClient | undefined {
    return this.peers.get(peerId)?.client;
  }

  /** Voters (this one included) heard from within `withinMs`. */
  reachable(withinMs: number): string[] {
    const now = Date.now();
    const out = [this.selfId];
    for (const peer of this.peers.keys()) {
      if (!this.faults.isCut(peer) && now - (this.lastHeard.get(peer) ?? 0) < withinMs) out.push(peer);
    }
    return out.sort();
  }

  close(): void {
    this.closed = true;
    for (const peer of this.peers.values()) {
      peer.call?.cancel();
      peer.client.close();
    }
  }
}
