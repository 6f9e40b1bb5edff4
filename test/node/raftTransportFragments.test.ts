// A batch over one message's limit goes in fragments only to a peer whose own consensus stream
// said it reassembles them; a peer of an earlier version gets it whole, as before (it would
// read a fragment as an empty batch and drop it). Real gRPC on loopback.
import { asNodeId, Message } from '../../services/core/consensus';
import { RaftBatch } from '../../proto/gen/concord/v1/raft';
import { raftMessageBytesMax } from '../../services/node/authority/fragmentRaftBatch';
import { RaftTransport } from '../../services/node/authority/RaftTransport';
import { LinkFaults } from '../../services/node/LinkFaults';
import { startFakeVoter, until } from './fakeVoter';

test('large batches are fragmented only for peers that said they reassemble fragments', async () => {
  const got: RaftBatch[] = [];
  const voter = await startFakeVoter(0, (b) => got.push(b));
  const transport = new RaftTransport('n1', 'c', [{ id: 'n1', address: '127.0.0.1:1' }, { id: 'p', address: `127.0.0.1:${voter.port}` }], new LinkFaults());
  const snap = (): Message[] => [{
    type: 'snap', from: asNodeId('n1'), to: asNodeId('p'), term: 1,
    snapshot: { index: 9, term: 1, voters: [asNodeId('n1'), asNodeId('p')], learners: [], data: new Uint8Array(raftMessageBytesMax + 1000).fill(7) },
  }];
  try {
    transport.send(snap());
    await until('the whole batch', () => got.length === 1);
    expect(got[0]!.messages).toHaveLength(1);
    expect(got[0]!.fragment).toHaveLength(0);

    transport.notePeerReadsFragments('p', true);
    transport.send(snap());
    await until('the fragments', () => got.slice(1).some((b) => b.fragmentLast));
    const parts = got.slice(1);
    expect(parts).toHaveLength(2);
    expect(parts.every((b) => b.messages.length === 0 && b.fragment.byteLength > 0)).toBe(true);

    transport.notePeerReadsFragments('p', false);
    transport.send(snap());
    await until('the whole batch again', () => got.length === 4);
    expect(got[3]!.messages).toHaveLength(1);
  } finally {
    transport.close();
    voter.server.forceShutdown();
  }
}, 20_000);
