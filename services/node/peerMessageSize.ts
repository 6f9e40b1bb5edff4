import { PushDiffRequest, SyncDoc, SyncRequest, SyncResponse } from '../../proto/gen/concord/v1/peer';
import { varintSize } from '../core/protobufVarint';

/**
 * Encoded sizes of the anti-entropy messages that carry documents, computed from their fields
 * (protobuf's length-delimited framing) instead of encoding them again just to count: a heal's
 * responses are megabytes, and a second encode doubled their cost and garbage.
 */

/** A length-delimited field with a one-byte tag (field numbers below 16); empty ones are omitted. */
const delimited = (len: number): number => (len === 0 ? 0 : 1 + varintSize(len) + len);

const utf8Size = (s: string): number => Buffer.byteLength(s, 'utf8');

/** A SyncDoc's encoded size without its own tag and length prefix. */
export function syncDocSize(d: SyncDoc): number {
  return delimited(utf8Size(d.documentId)) + delimited(d.stateVector.length) + delimited(d.update.length) + delimited(d.deleteSetDigest.length);
}

/** A repeated message field: every element is written, even an empty one. */
function docsSize(docs: readonly SyncDoc[]): number {
  let n = 0;
  for (const d of docs) {
    const len = syncDocSize(d);
    n += 1 + varintSize(len) + len;
  }
  return n;
}

export function syncRequestSize(r: SyncRequest): number {
  return delimited(utf8Size(r.nodeId)) + docsSize(r.documents) + (r.pullOnly ? 2 : 0);
}

export function syncResponseSize(r: SyncResponse): number {
  return docsSize(r.documents) + (r.pullsBack ? 2 : 0);
}

export function pushDiffRequestSize(r: PushDiffRequest): number {
  return delimited(utf8Size(r.nodeId)) + docsSize(r.documents);
}
