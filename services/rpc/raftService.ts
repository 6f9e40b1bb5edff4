import { sendUnaryData, ServerReadableStream, ServiceError } from '@grpc/grpc-js';
import { RaftBatch, RaftServiceServer, RaftStreamAck } from '../../proto/gen/concord/v1/raft';
import { AuthorityNode } from '../node/authority/AuthorityNode';
import { kvLogFormatsHeader } from '../node/authority/RaftTransport';
import { nodeIdHeader } from '../node/peerChannelOptions';
import { toServiceError } from './errorTable';

/**
 * Receives consensus messages from the other voters, one long-lived stream per sender, and
 * steps each batch into the core as it arrives. A malformed batch ends the stream with
 * INVALID_ARGUMENT (the sender opens a new one on its next send).
 */
export function raftService(auth: AuthorityNode): RaftServiceServer {
  return {
    stream: (call: ServerReadableStream<RaftBatch, RaftStreamAck>, callback: sendUnaryData<RaftStreamAck>): void => {
      let done = false;
      // Which KV log formats the sender reads (AuthorityNode.kvLogFormat): noted per stream.
      const from = call.metadata.get(nodeIdHeader)[0];
      if (typeof from === 'string') auth.notePeerLogFormats(from, call.metadata.get(kvLogFormatsHeader).includes('protobuf'));
      const finish = (err: unknown): void => {
        if (done) return;
        done = true;
        if (err === undefined) callback(null, {});
        else callback(toServiceError(err) as ServiceError);
      };
      call.on('data', (batch: RaftBatch) => {
        if (done) return;
        try {
          auth.receive(batch.from, batch.clusterId, batch.messages);
        } catch (err) {
          finish(err);
        }
      });
      call.on('end', () => finish(undefined));
      call.on('error', () => finish(undefined));
    },
  };
}
