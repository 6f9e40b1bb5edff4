import { ChannelOptions, Client, connectivityState } from '@grpc/grpc-js';

/**
 * Channel options for node-to-node clients. Keepalive pings find a connection that a network
 * cut silently broke (packets dropped, no reset) within about two seconds, so links come back
 * soon after a heal instead of waiting for TCP's retransmission timer (tens of seconds). Each
 * client gets its own connection (local subchannel pool) so that a client stuck dialling (a SYN
 * lost during a cut waits for the kernel's next retry, up to 16 s) can be replaced by a fresh
 * one (see `redialAfterMs`) without touching the other links to the same peer.
 */
export const peerChannelOptions: ChannelOptions = {
  'grpc.keepalive_time_ms': 1000,
  'grpc.keepalive_timeout_ms': 1000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.max_send_message_length': 64 << 20,
  'grpc.use_local_subchannel_pool': 1,
  // HTTP/2 flow control: the window the peer may send into before we acknowledge (per stream
  // and per connection). With the default 64 KiB, a Sync answer of a few hundred kilobytes
  // crossed in steps, each waiting for this end to read and grant more, and a node busy
  // applying grants late: during a heal, answers arrived tens of milliseconds after they were
  // sent. 16 MiB covers an answer's byte budget (8 MiB) and then some.
  'grpc-node.flow_control_window': 16 << 20,
  // No channelz bookkeeping (see grpcServer).
  'grpc.enable_channelz': 0,
};

/** Metadata naming the sending node on every node-to-node call and stream. */
export const nodeIdHeader = 'concord-node-id';

/** A peer not heard from for this long gets a new client (a new socket) on the next attempt. */
export const redialAfterMs = 2000;

/**
 * Whether a client's connection is up now. Keepalive pings close a connection that stops
 * answering within about two seconds, so a connection still up after a long silence of the
 * peer (a cut injected above the transport, a peer that had nothing to say) is one to keep:
 * a new client would pay a fresh TCP and HTTP/2 handshake on the heal's critical path.
 */
export function connectionUp(client: Client): boolean {
  return client.getChannel().getConnectivityState(false) === connectivityState.READY;
}
