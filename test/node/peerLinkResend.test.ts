// After a blip a replication link re-sends its backlog when a write waits for the peer's acks,
// however large the backlog: a dropped update never counts as acked, so a QUORUM or ALL write
// would wait out its deadline although anti-entropy delivers its content. Without waiting
// writes, a large backlog is left to anti-entropy. Real gRPC on loopback against a minimal peer
// that drops the first stream's batches unacked and acks those of the next one.
import * as grpc from '@grpc/grpc-js';
import { reconnectBacklogBytesMax } from '../../services/node/PeerLink';
import { answerHello, linkToFakePeer, PeerStream, startFakePeer } from './fakePeer';
import { sleep, until } from './fakeVoter';

/** A peer whose first stream fails on its first batch (a dropped connection); later streams ack. */
async function startFlakyPeer(): Promise<{ server: grpc.Server; port: number; batchesSeen: () => number[][] }> {
  const seen: number[][] = [];
  const streamNumber = new Map<PeerStream, number>();
  const peer = await startFakePeer(0, {
    onHello: (call) => {
      streamNumber.set(call, streamNumber.size + 1);
      answerHello(call);
    },
    onBatch: (call, batch) => {
      seen.push(batch.updates.map((u) => Number(u.seq)));
      if (streamNumber.get(call) === 1) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'connection dropped' });
      else call.write({ body: { $case: 'ack', value: { durableSeq: batch.updates.at(-1)!.seq } } });
    },
  });
  return { ...peer, batchesSeen: () => seen };
}

test.each([
  ['a write waits for acks: the large backlog is re-sent and acked', true],
  ['no write waits: the large backlog is left to anti-entropy', false],
])('%s', async (_name, awaited) => {
  const peer = await startFlakyPeer();
  const link = linkToFakePeer(peer.port, { heartbeatIntervalMs: 500, batchBytesMax: 4 << 20, queueBytesMax: 64 << 20, acksAwaited: () => awaited });
  try {
    link.start();
    await until('the first connect', () => link.connected);
    // One update larger than what a reconnect re-sends without waiting writes.
    link.enqueue(1, 'big', new Uint8Array(reconnectBacklogBytesMax + 1));
    await until('the first stream to drop with the batch unacked', () => peer.batchesSeen().length === 1 && !link.connected);
    await until('the link to reconnect', () => link.connected);
    if (awaited) {
      await until('the peer to ack the re-sent update', () => link.holds(1));
      expect(peer.batchesSeen()).toEqual([[1], [1]]);
    } else {
      await sleep(300);
      expect([link.holds(1), peer.batchesSeen()]).toEqual([false, [[1]]]);
    }
  } finally {
    link.stop();
    await new Promise<void>((resolve) => peer.server.tryShutdown(() => resolve()));
  }
}, 20_000);
