// The failure detector hears a peer on either stream between the two nodes. Our stream's
// heartbeat replies can wait behind megabytes this node sent (the peer answers heartbeats queued
// after our data); the peer's own stream to us carries its heartbeats regardless. Real gRPC on
// loopback against a minimal peer that answers the hello but no heartbeat, as a peer busy
// receiving our data would look.
import { answerHello, linkToFakePeer, startFakePeer } from './fakePeer';
import { sleep, until } from './fakeVoter';

test('a peer silent on our stream stays reachable while its own stream to us carries messages, and is not once both are silent', async () => {
  const peer = await startFakePeer(0);
  const hb = 300;
  const link = linkToFakePeer(peer.port, { heartbeatIntervalMs: hb });
  try {
    link.start();
    await until('the first connect', () => link.connected && link.reachable);
    const hello = Date.now();
    // Our stream hears nothing after the hello. The peer's stream brings a message every 25 ms
    // or so, until well past three heartbeat intervals of silence on ours (and short of the six
    // after which a stream with nothing in flight is dropped and dialled again). A check counts
    // only within three intervals of the last message (a stalled runner proves nothing else).
    const failures: number[] = [];
    let checkedLate = false;
    while (Date.now() - hello < 4.5 * hb) {
      link.heardOnPeerStream();
      const heard = Date.now();
      expect(link.lastHeardMsAgo).toBeLessThan(hb);
      await sleep(25);
      const reachable = link.reachable;
      const now = Date.now();
      if (now - heard < 3 * hb && !reachable) failures.push(now - hello);
      if (now - hello > 3.5 * hb) checkedLate = true;
    }
    expect(failures).toEqual([]);
    expect(checkedLate).toBe(true);
    // Both silent: unreachable within three intervals and a bit.
    await until('unreachable once both streams are silent', () => !link.reachable, 10 * hb);
  } finally {
    link.stop();
    peer.server.forceShutdown();
  }
}, 20_000);

test('a stream silent for six heartbeats is kept while it has data in flight and the peer is heard on its own stream, and dialled again once both are silent', async () => {
  let hellos = 0;
  // A peer busy receiving: it answers the hello, then neither acks nor answers heartbeats.
  const peer = await startFakePeer(0, { onHello: (call) => {
    hellos++;
    answerHello(call);
  } });
  const hb = 200;
  const link = linkToFakePeer(peer.port, { heartbeatIntervalMs: hb, acksAwaited: () => true });
  try {
    link.start();
    await until('the first connect', () => link.connected);
    link.enqueue(1, 'd', new Uint8Array([1, 2, 3]));
    const since = Date.now();
    while (Date.now() - since < 8 * hb) {
      link.heardOnPeerStream();
      await sleep(25);
    }
    expect(hellos).toBe(1);
    expect(link.connected).toBe(true);
    // Both silent past six heartbeats: the stream goes, and the link dials again.
    await until('a second dial', () => hellos >= 2, 20 * hb);
  } finally {
    link.stop();
    peer.server.forceShutdown();
  }
}, 20_000);
