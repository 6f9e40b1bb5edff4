import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { PeerMessage, PeerServiceClient, PeerServiceService } from '../../proto/gen/concord/v1/peer';
import { RaftBatch, RaftServiceClient, RaftServiceService } from '../../proto/gen/concord/v1/raft';
import { serializeReusing } from '../core/encodeReusing';

// The clients one node dials the others with: the generated ones, but the messages sent on the
// busiest streams (replication batches, Raft appends) encoded with a kept writer (see
// serializeReusing).

export const PeerClient = makeGenericClientConstructor(
  { ...PeerServiceService, replicate: { ...PeerServiceService.replicate, requestSerialize: serializeReusing(PeerMessage.encode) } },
  'concord.v1.PeerService',
) as unknown as typeof PeerServiceClient;

export const RaftClient = makeGenericClientConstructor(
  { ...RaftServiceService, stream: { ...RaftServiceService.stream, requestSerialize: serializeReusing(RaftBatch.encode) } },
  'concord.v1.RaftService',
) as unknown as typeof RaftServiceClient;
