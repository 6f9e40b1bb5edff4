import { ServerWritableStream } from '@grpc/grpc-js';
import * as Y from 'yjs';
import {
  AckLevel as PbAckLevel,
  ApplyRequest,
  DocumentServiceServer,
  GetRequest,
  GetResponse,
  ListResponse,
  WatchEvent,
  WatchRequest,
  WriteResponse,
} from '../../proto/gen/concord/v1/documents';
import { DocumentId, parseDocumentId } from '../core/crdt/documentId';
import { renderJson } from '../core/crdt/renderJson';
import { decodeVersion, encodeVersion } from '../core/crdt/versionToken';
import { DomainError, invalidArgument } from '../core/errors/DomainError';
import { DocumentNode } from '../node/DocumentNode';
import { AckLevel } from '../node/Replicator';
import { applyStreamHandler } from './applyStream';
import type { CallAuthorizer } from './CallAuthorizer';
import { applyNeeds } from './requiredAccess';
import { remainingMs, serverStream, unary } from './handlers';
import { toTypedOperation } from './toTypedOperation';

/** Slack kept before the caller's deadline so a status, not a client timeout, reaches it. */
const deadlineSlackMs = 30;
const defaultDeadlineMs = 10_000;

function ackLevel(a: PbAckLevel): AckLevel {
  switch (a) {
    case PbAckLevel.ACK_LEVEL_UNSPECIFIED:
    case PbAckLevel.ACK_LEVEL_LOCAL:
      return 'local';
    case PbAckLevel.ACK_LEVEL_QUORUM:
      return 'quorum';
    case PbAckLevel.ACK_LEVEL_ALL:
      return 'all';
    default:
      throw invalidArgument(`unknown ack level ${String(a)}`);
  }
}

/**
 * Thin handlers: decode, call one DocumentNode method, encode. Errors go through the table. With
 * an authorizer, each write of a stream is checked on its own (the unary calls are checked by
 * the authorizer's wrapper before they get here).
 */
export function documentService(node: DocumentNode, authorizer?: CallAuthorizer): DocumentServiceServer {
  const apply = async (req: ApplyRequest, timeoutMs: number): Promise<WriteResponse> => {
    const docId = parseDocumentId(req.documentId);
    const level = ackLevel(req.ack);
    const ops = req.operations.map(toTypedOperation);
    const { version, ackedBy } = await node.applyOps(docId, ops, level, timeoutMs);
    return { version, nodeId: node.nodeId, ackedBy };
  };
  return {
    apply: unary((req, call) => apply(req, remainingMs(call, defaultDeadlineMs) - deadlineSlackMs)),

    applyBatches: applyStreamHandler((req, timeoutMs) => apply(req.apply as ApplyRequest, timeoutMs), defaultDeadlineMs, authorizer === undefined ? undefined : (call) => {
      const caller = authorizer.perMessage(call);
      return (req) => caller.check(applyNeeds(req.apply as ApplyRequest));
    }),

    pushUpdate: unary(async (req, call): Promise<WriteResponse> => {
      const docId = parseDocumentId(req.documentId);
      const level = ackLevel(req.ack);
      const { version, ackedBy } = await node.pushUpdate(docId, req.update, level, remainingMs(call, defaultDeadlineMs) - deadlineSlackMs);
      return { version, nodeId: node.nodeId, ackedBy };
    }),

    get: unary(async (req: GetRequest, call): Promise<GetResponse> => {
      node.assertHoldsDocuments();
      const docId = parseDocumentId(req.documentId);
      if (req.minVersion.length > 0) {
        await node.catchUp(docId, decodeVersion(req.minVersion), remainingMs(call, defaultDeadlineMs) - deadlineSlackMs);
      }
      const doc = node.store.peek(docId);
      if (doc === undefined) throw new DomainError('not-found', `no document ${docId}`);
      let update: Uint8Array = new Uint8Array();
      if (req.includeUpdate || req.stateVector.length > 0) {
        try {
          update = req.stateVector.length > 0 ? Y.encodeStateAsUpdate(doc, req.stateVector) : Y.encodeStateAsUpdate(doc);
        } catch {
          throw invalidArgument('state_vector is not a Yjs state vector');
        }
      }
      const answer = { json: JSON.stringify(renderJson(doc)), version: encodeVersion(doc), update, nodeId: node.nodeId };
      // Answer only with durable state: a client must never build on a change a crash could undo.
      await node.store.durable(docId);
      return answer;
    }),

    watch: serverStream(async (req: WatchRequest, call: ServerWritableStream<WatchRequest, WatchEvent>) => {
      node.assertHoldsDocuments();
      const docId = parseDocumentId(req.documentId);
      const from = req.fromVersion.length > 0 ? decodeVersion(req.fromVersion) : undefined;
      await watchDocument(node, docId, from === undefined ? undefined : Y.encodeStateVector(from.sv), req.includeJson, call);
    }),

    list: unary(async (req): Promise<ListResponse> => {
      node.assertHoldsDocuments();
      const limit = req.limit === 0 ? 100 : req.limit;
      if (limit > 10_000) throw invalidArgument('limit is at most 10000');
      const docs = node.store.list(req.prefix, req.startAfter, limit + 1);
      const page = docs.slice(0, limit);
      return {
        documents: page.map((d) => ({ documentId: d.docId, updates: BigInt(d.updates), bytes: BigInt(d.bytes) })),
        nextStartAfter: docs.length > limit ? (page[page.length - 1]?.docId ?? '') : '',
      };
    }),
  };
}

/** Streams the document from `fromSv`, then every durable change, until the caller cancels. */
function watchDocument(
  node: DocumentNode,
  docId: DocumentId,
  fromSv: Uint8Array | undefined,
  includeJson: boolean,
  call: ServerWritableStream<WatchRequest, WatchEvent>,
): Promise<void> {
  return new Promise<void>((resolve) => {
    // Every event carries the token taken when its update applied, never a later one that could
    // name changes still in flight.
    const send = (update: Uint8Array, origin: string, version: Uint8Array): void => {
      const doc = node.store.peek(docId);
      if (doc === undefined || call.cancelled || call.writableEnded) return;
      call.write({ update, version, json: includeJson ? JSON.stringify(renderJson(doc)) : '', origin });
    };
    // Changes from now on carry their tokens. One applied before is in the catch-up below; if
    // its listener runs only later, it comes without a token and is not sent again.
    const unwatch = node.store.watchVersions(docId);
    const doc = node.store.peek(docId);
    if (doc !== undefined) {
      // The catch-up is sent once what it contains is durable (live changes come after persist).
      const first = fromSv === undefined ? Y.encodeStateAsUpdate(doc) : Y.encodeStateAsUpdate(doc, fromSv);
      const firstVersion = encodeVersion(doc);
      void node.store.durable(docId).then(() => send(first, 'catch-up', firstVersion));
    }
    const unsubscribe = node.store.onDocumentChange(docId, (c) => {
      if (c.version !== undefined) send(c.update, c.origin, c.version);
    });
    const done = (): void => {
      unwatch();
      unsubscribe();
      resolve();
    };
    call.on('cancelled', done);
    call.on('close', done);
  });
}
