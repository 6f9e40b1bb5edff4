import { RaftBatch } from '../../../proto/gen/concord/v1/raft';
import { invalidArgument } from '../../core/errors/DomainError';

/**
 * Most bytes one fragmented batch may reassemble to: bounds what a sender can make a voter
 * buffer. A KV snapshot larger than this cannot be installed (the state machine lives in
 * memory, and so does its snapshot).
 */
export const reassembledBytesMax = 1 << 30;

/**
 * Reassembles the batches of one consensus stream (see fragmentRaftBatch): whole batches pass
 * through, fragments are held until the last arrives and then decoded into the whole batch.
 * Throws invalid-argument when the parts exceed `maxBytes` or do not decode.
 */
export class RaftBatchAssembler {
  private parts: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes = reassembledBytesMax) {}

  /** The whole batch `batch` completes, or undefined while fragments are still missing. */
  push(batch: RaftBatch): RaftBatch | undefined {
    if (batch.fragment.byteLength === 0 && !batch.fragmentLast) {
      if (this.parts.length > 0) throw invalidArgument('consensus stream: a whole batch arrived between the fragments of another');
      return batch;
    }
    this.bytes += batch.fragment.byteLength;
    if (this.bytes > this.maxBytes) {
      this.parts = [];
      this.bytes = 0;
      throw invalidArgument(`consensus stream: a fragmented batch exceeds ${this.maxBytes} bytes`);
    }
    this.parts.push(batch.fragment);
    if (!batch.fragmentLast) return undefined;
    const whole = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    let decoded: RaftBatch;
    try {
      decoded = RaftBatch.decode(whole);
    } catch (err) {
      throw invalidArgument(`consensus stream: a fragmented batch does not decode: ${String(err)}`);
    }
    if (decoded.fragment.byteLength > 0 || decoded.fragmentLast) throw invalidArgument('consensus stream: a reassembled batch is itself a fragment');
    return decoded;
  }
}
