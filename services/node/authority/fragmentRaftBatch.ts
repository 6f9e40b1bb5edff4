import { Message } from '../../core/consensus';
import { RaftBatch } from '../../../proto/gen/concord/v1/raft';

/**
 * Largest gRPC message the Raft transport writes: half a node's request limit (8 MiB, see
 * grpcServer), so a fragment and its envelope always fit.
 */
export const raftMessageBytesMax = 4 << 20;

/** Generous encoding overhead of one message and of one entry besides their data bytes. */
const messageOverheadBytes = 512;
const entryOverheadBytes = 64;

/** An upper bound of a message's encoded size, without encoding it. */
export function messageBytesBound(m: Message): number {
  let bytes = messageOverheadBytes;
  if (m.type === 'app') for (const e of m.entries) bytes += e.data.byteLength + entryOverheadBytes;
  if (m.type === 'snap') bytes += m.snapshot.data.byteLength + 64 * (m.snapshot.voters.length + m.snapshot.learners.length);
  return bytes;
}

/**
 * The gRPC messages that carry `batch`: the batch itself when `boundBytes` (see
 * messageBytesBound) or its encoding fits in `maxBytes`, else fragments of its encoding, each at
 * most `maxBytes` of data, the last marked (see RaftBatch.fragment in raft.proto).
 */
export function fragmentRaftBatch(batch: RaftBatch, boundBytes: number, maxBytes = raftMessageBytesMax): RaftBatch[] {
  if (boundBytes <= maxBytes) return [batch];
  const whole = RaftBatch.encode(batch).finish();
  if (whole.byteLength <= maxBytes) return [batch];
  const out: RaftBatch[] = [];
  for (let at = 0; at < whole.byteLength; at += maxBytes) {
    const end = Math.min(at + maxBytes, whole.byteLength);
    out.push({ from: '', clusterId: '', messages: [], fragment: whole.subarray(at, end), fragmentLast: end === whole.byteLength });
  }
  return out;
}
