import {
  ATTR_ACK_LEVEL,
  ATTR_ACK_REQUIRED,
  ATTR_ACKED_BY,
  ATTR_DOCUMENT_ID,
  ATTR_NODE_ID,
  ATTR_UPDATE_BYTES,
  ATTR_UPDATE_ORIGIN,
  SPAN_DOCUMENT_ACK_WAIT,
  SPAN_DOCUMENT_PERSIST,
} from './names';
import { inSpan, tracingEnabled } from './tracing';

/**
 * The local persist of a client write on the accepting node (apply to the in-memory document
 * and fsync), as a child of the RPC's server span, with the ack level the client asked for. The
 * replication spans of the update start inside it (the store notifies replication after the
 * fsync), so they are its children.
 */
export function tracePersist<T extends { update: Uint8Array }>(nodeId: string, docId: string, ackLevel: string, origin: string, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  return inSpan(SPAN_DOCUMENT_PERSIST, { [ATTR_NODE_ID]: nodeId, [ATTR_DOCUMENT_ID]: docId, [ATTR_ACK_LEVEL]: ackLevel, [ATTR_UPDATE_ORIGIN]: origin }, async (span) => {
    const result = await fn();
    span?.setAttribute(ATTR_UPDATE_BYTES, result.update.byteLength);
    return result;
  });
}

/** The wait for QUORUM or ALL acks after the local persist (LOCAL does not wait: no span). */
export function traceAckWait(nodeId: string, ackLevel: string, required: number, fn: () => Promise<number>): Promise<number> {
  if (!tracingEnabled() || ackLevel === 'local') return fn();
  return inSpan(SPAN_DOCUMENT_ACK_WAIT, { [ATTR_NODE_ID]: nodeId, [ATTR_ACK_LEVEL]: ackLevel, [ATTR_ACK_REQUIRED]: required }, async (span) => {
    const ackedBy = await fn();
    span?.setAttribute(ATTR_ACKED_BY, ackedBy);
    return ackedBy;
  });
}
