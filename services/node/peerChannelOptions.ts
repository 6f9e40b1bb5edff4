import { ChannelOptions } from '@grpc/grpc-js';

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
  // No channelz bookkeeping (see grpcServer).
  'grpc.enable_channelz': 0,
};

/** A peer not heard from for this long gets a new client (a new socket) on the next attempt. */
export const redialAfterMs = 2000;
