import { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { GetRequest, GetResponse } from '../../../proto/gen/concord/v1/documents';
import { DocumentNode } from '../../../services/node/DocumentNode';
import { documentService } from '../../../services/rpc/documentService';

/**
 * A client's read of a whole document through the real DocumentService.Get handler (without
 * gRPC transport), as a Yjs client does before it edits: resolves with the answer, rejects
 * with the handler's error, and stays pending if the handler never answers (a crashed node).
 */
export function getDocument(node: DocumentNode, documentId: string): Promise<GetResponse> {
  return new Promise((resolve, reject) => {
    const request: GetRequest = { documentId, minVersion: new Uint8Array(), stateVector: new Uint8Array(), includeUpdate: true };
    // No deadline: the simulation has no wall clock, and the handler only reads getDeadline.
    const call = { request, getDeadline: () => Infinity } as unknown as ServerUnaryCall<GetRequest, GetResponse>;
    const callback: sendUnaryData<GetResponse> = (err, res) => {
      if (err === null && res !== undefined && res !== null) resolve(res);
      else reject(err ?? new Error('Get answered nothing'));
    };
    documentService(node).get(call, callback);
  });
}
