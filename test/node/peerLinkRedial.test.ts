// After a long cut a replication link dials a fresh client only when its connection is gone: a
// cut above the transport (the admin API's, the demo's) leaves the connection up, kept alive by
// keepalive pings, and reusing it saves a TCP and HTTP/2 handshake on the heal's critical path;
// a connection that died during the cut is replaced. Real gRPC on loopback against a minimal
// peer that answers the hello.
import * as grpc from '@grpc/grpc-js';
import { LinkFaults } from '../../services/node/LinkFaults';
import { redialAfterMs } from '../../services/node/peerChannelOptions';
import { answerHello, linkToFakePeer, startFakePeer } from './fakePeer';
import { sleep, until } from './fakeVoter';

test('a link keeps its client across a long cut while the connection is up, and replaces it once the connection died', async () => {
  let peer = await startFakePeer(0);
  const faults = new LinkFaults();
  const link = linkToFakePeer(peer.port, { faults });
  try {
    link.start();
    await until('the first connect', () => link.connected);
    const first = link.client;

    // A cut longer than the silence after which a link used to redial.
    faults.set('p', { cut: true, delayMs: 0 });
    await until('the cut to close the stream', () => !link.connected);
    await sleep(redialAfterMs + 300);
    faults.set('p', { cut: false, delayMs: 0 });
    await until('the reconnect after the heal', () => link.connected);
    expect(link.client).toBe(first);

    // Now the connection dies during the cut (the peer restarts on the same port).
    faults.set('p', { cut: true, delayMs: 0 });
    await until('the cut to close the stream', () => !link.connected);
    peer.server.forceShutdown();
    peer = await startFakePeer(peer.port);
    await sleep(redialAfterMs + 300);
    faults.set('p', { cut: false, delayMs: 0 });
    await until('the reconnect to the restarted peer', () => link.connected);
    expect(link.client).not.toBe(first);
  } finally {
    link.stop();
    peer.server.forceShutdown();
  }
}, 20_000);

test('a dial refused because the peer still had the cut in force is redialled at once when the peer dialled us meanwhile', async () => {
  // A peer that refuses hellos (as a node whose cut is still in force does), after `refuseAfterMs`.
  let hellos = 0;
  let refuse = true;
  let refuseAfterMs = 0;
  let onHello = (): void => undefined;
  const { server, port } = await startFakePeer(0, { onHello: (call) => {
    hellos++;
    onHello();
    if (!refuse) answerHello(call);
    else setTimeout(() => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'link to n1 is cut' }), refuseAfterMs);
  } });
  const link = linkToFakePeer(port, { reconnectDelayMsMax: 10_000 });
  try {
    link.start();
    // Five refusals back the link off: after the next one it would wait 1.6 s to redial.
    await until('five refused dials', () => hellos >= 5, 10_000);
    // The next dial is refused 200 ms after it arrives; meanwhile the peer heals and dials us.
    refuseAfterMs = 200;
    let refusedAt = 0;
    onHello = () => {
      onHello = () => undefined;
      link.redialNow();
      setTimeout(() => {
        refuse = false;
        refusedAt = Date.now();
      }, 200);
    };
    await until('the sixth dial', () => hellos >= 6, 10_000);
    await until('the link to connect', () => link.connected, 10_000);
    // At once after the refusal, not after the 1.6 s the backoff had reached.
    expect(Date.now() - refusedAt).toBeLessThan(1_000);
  } finally {
    link.stop();
    server.forceShutdown();
  }
}, 20_000);
