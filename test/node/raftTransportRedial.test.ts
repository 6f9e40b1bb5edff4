// After a long silence the consensus transport dials a fresh client only when its connection is
// gone: a cut above the transport leaves the connection up (keepalive pings), and reusing it
// saves a TCP and HTTP/2 handshake after the heal; a connection that died is replaced. Real
// gRPC on loopback against a minimal voter that counts the batches it receives.
import { asNodeId } from '../../services/core/consensus';
import { RaftTransport } from '../../services/node/authority/RaftTransport';
import { LinkFaults } from '../../services/node/LinkFaults';
import { redialAfterMs } from '../../services/node/peerChannelOptions';
import { sleep, startFakeVoter, until } from './fakeVoter';

test('the consensus transport keeps its client across a long cut while the connection is up, and replaces it once the connection died', async () => {
  const received = { n: 0 };
  let voter = await startFakeVoter(0, () => received.n++);
  const faults = new LinkFaults();
  const transport = new RaftTransport('n1', 'c', [{ id: 'n1', address: '127.0.0.1:1' }, { id: 'p', address: `127.0.0.1:${voter.port}` }], faults);
  const heartbeat = () => [{ type: 'heartbeat' as const, from: asNodeId('n1'), to: asNodeId('p'), term: 1, commit: 0, readContext: null }];
  try {
    transport.send(heartbeat());
    await until('the first batch', () => received.n === 1);
    const first = transport.clientOf('p');

    // Silent longer than the redial threshold while cut (nothing heard from p all along).
    faults.set('p', { cut: true, delayMs: 0 });
    await sleep(redialAfterMs + 300);
    faults.set('p', { cut: false, delayMs: 0 });
    transport.send(heartbeat());
    await until('the batch after the heal', () => received.n === 2);
    expect(transport.clientOf('p')).toBe(first);

    // Now the connection dies during the cut (the voter restarts on the same port).
    faults.set('p', { cut: true, delayMs: 0 });
    voter.server.forceShutdown();
    voter = await startFakeVoter(voter.port, () => received.n++);
    await sleep(redialAfterMs + 300);
    faults.set('p', { cut: false, delayMs: 0 });
    transport.send(heartbeat());
    await until('a batch to the restarted voter', () => received.n === 3);
    expect(transport.clientOf('p')).not.toBe(first);
  } finally {
    transport.close();
    voter.server.forceShutdown();
  }
}, 20_000);
