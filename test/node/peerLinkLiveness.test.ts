// The failure detector hears a peer on either stream between the two nodes. Our stream's
// heartbeat replies can wait behind megabytes this node sent (the peer answers heartbeats queued
// after our data); the peer's own stream to us carries its heartbeats regardless. Real gRPC on
// loopback against a minimal peer that answers the hello but no heartbeat, as a peer busy
// receiving our data would look.
import { LinkFaults } from '../../services/node/LinkFaults';
import { PeerLink } from '../../services/node/PeerLink';
import { startFakePeer } from './fakePeer';
import { sleep, until } from './fakeVoter';

test('a peer silent on our stream stays reachable while its own stream to us carries messages, and is not once both are silent', async () => {
  const peer = await startFakePeer(0);
  const link = new PeerLink({
    selfId: 'n1', clusterId: 'c', incarnation: 1n, peerId: 'p', address: `127.0.0.1:${peer.port}`,
    heartbeatIntervalMs: 100, reconnectDelayMsMax: 200, batchUpdatesMax: 64, batchBytesMax: 1 << 20, queueBytesMax: 1 << 20,
    faults: new LinkFaults(), onConnected: () => undefined, onAck: () => undefined, acksAwaited: () => false,
  });
  try {
    link.start();
    await until('the first connect', () => link.connected && link.reachable);
    // Our stream hears nothing after the hello. The peer's stream brings a message every 50 ms:
    // reachable throughout, well past the three heartbeat intervals (300 ms) of silence on ours
    // (and short of the six after which our stream is dropped and dialled again).
    const since = Date.now();
    const unreachableAt: number[] = [];
    while (Date.now() - since < 500) {
      link.heardOnPeerStream();
      await sleep(25);
      if (!link.reachable) unreachableAt.push(Date.now() - since);
      await sleep(25);
    }
    expect(unreachableAt).toEqual([]);
    expect(link.lastHeardMsAgo).toBeLessThan(100);
    // Both silent: unreachable within three intervals and a bit.
    const silentFrom = Date.now();
    await until('unreachable once both streams are silent', () => !link.reachable, 2000);
    expect(Date.now() - silentFrom).toBeLessThan(1000);
  } finally {
    link.stop();
    peer.server.forceShutdown();
  }
}, 10_000);
