import { sendUnaryData, ServerReadableStream, ServiceError } from '@grpc/grpc-js';
import { RaftBatch, RaftServiceServer, RaftStreamAck } from '../../proto/gen/concord/v1/raft';
import { AuthorityNode } from '../node/authority/AuthorityNode';
import { RaftBatchAssembler } from '../node/authority/RaftBatchAssembler';
import { batchFragmentsHeader, kvLogFormatsHeader } from '../node/authority/RaftTransport';
import { nodeIdHeader } from '../node/peerChannelOptions';
import { toServiceError } from './errorTable';

/**
 * Receives consensus messages from the other voters, one long-lived stream per sender, and
 * steps each batch into the core as it arrives. A malformed batch ends the stream with
 * INVALID_ARGUMENT (the sender opens a new one on its next send). A batch larger than one
 * gRPC message (a snapshot of a large state) arrives as fragments and is reassembled first.
 */
export function raftService(auth: AuthorityNode): RaftServiceServer {
  return {
    stream: (call: ServerReadableStream<RaftBatch, RaftStreamAck>, callback: sendUnaryData<RaftStreamAck>): void => {
      let done = false;
      // Which KV log formats the sender reads (AuthorityNode.kvLogFormat) and whether it
      // reassembles fragmented batches (RaftTransport): noted per stream.
      const from = call.metadata.get(nodeIdHeader)[0];
      if (typeof from === 'string') {
        auth.notePeerLogFormats(from, call.metadata.get(kvLogFormatsHeader).includes('protobuf'));
        auth.transport.notePeerReadsFragments(from, call.metadata.get(batchFragmentsHeader).includes('yes'));
      }
      const finish = (err: unknown): void => {
        if (done) return;
        done = true;
        if (err === undefined) callback(null, {});
        else callback(toServiceError(err) as ServiceError);
      };
      // Batches over one message's limit arrive in fragments (see fragmentRaftBatch).
      const assembler = new RaftBatchAssembler();
      call.on('data', (part: RaftBatch) => {
        if (done) return;
        try {
          const batch = assembler.push(part);
          if (batch !== undefined) auth.receive(batch.from, batch.clusterId, batch.messages);
        } catch (err) {
          finish(err);
        }
      });
      call.on('end', () => finish(undefined));
      call.on('error', () => finish(undefined));
    },
  };
}
