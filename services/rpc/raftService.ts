import { RaftServiceServer } from '../../proto/gen/concord/v1/peer';
import { AuthorityNode } from '../node/authority/AuthorityNode';
import { unary } from './handlers';

/** Receives consensus messages from the other voters and steps them into the core. */
export function raftService(auth: AuthorityNode): RaftServiceServer {
  return {
    deliver: unary(async (req) => {
      auth.receive(req.from, req.clusterId, req.messages);
      return {};
    }),
  };
}
