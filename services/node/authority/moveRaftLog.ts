import { prefixEnd, StorageEngine, WriteOp } from '../../storage/StorageEngine';

/** Every key of the Raft log (DurableRaftStorage): entries, hard state, snapshot record and chunks. */
export const raftLogPrefix = 'r:';

/** Written in the log's own store with the last batch of a move: the copy there is whole. */
export const raftLogMovedKey = 'n:raft-log-moved';

/** Bytes copied per write while moving (a snapshot chunk is 4 MiB at most). */
const moveBatchBytesMax = 16 << 20;
/** Keys deleted per write from the old store once the copy is whole. */
const deleteBatchKeysMax = 10_000;

/**
 * Moves the Raft log of a data directory from before the log had a store of its own (it shared
 * the documents' store) into `to`: everything under `r:` is copied in batches, the last one
 * marking the copy whole, then deleted from `from`. A crash midway leaves `from` whole until the
 * mark is durable, so the next start copies again (overwriting what the first copy wrote), and
 * leftovers after the mark are only deleted. Returns the number of records moved (0 when there
 * was nothing to move). Going back to a version that reads the log from the shared store after
 * this has run is not supported: that version would find no log.
 */
export async function moveRaftLog(from: StorageEngine, to: StorageEngine): Promise<number> {
  const range = { gte: raftLogPrefix, lt: prefixEnd(raftLogPrefix) };
  const [first] = from.range({ ...range, limit: 1, keysOnly: true });
  if (first === undefined) return 0;
  let moved = 0;
  if (to.get(raftLogMovedKey) === undefined) {
    // A page at a time, its reads finished before its write (no read held across an await).
    let after = range.gte;
    for (;;) {
      const batch: WriteOp[] = [];
      let bytes = 0;
      for (const { key, value } of from.range({ gte: after, lt: range.lt })) {
        batch.push({ type: 'put', key, value });
        bytes += value.byteLength;
        if (bytes >= moveBatchBytesMax) break;
      }
      const last = batch.at(-1);
      if (last === undefined) break;
      moved += batch.length;
      after = `${last.key}\u0000`;
      await to.write(batch);
    }
    await to.write([{ type: 'put', key: raftLogMovedKey, value: new Uint8Array([1]) }]);
  }
  for (;;) {
    const keys = [...from.range({ ...range, limit: deleteBatchKeysMax, keysOnly: true })].map(({ key }) => key);
    if (keys.length === 0) break;
    await from.write(keys.map((key) => ({ type: 'del', key })));
  }
  return moved;
}
