import * as fs from 'node:fs';
import { status } from '@grpc/grpc-js';
import { splitUpdate } from '../../../services/core/crdt/splitUpdate';
import { updateBytesMax } from '../../../services/core/crdt/validateUpdate';
import type { Ack } from '../ackLevel';
import type { ConcordClient } from '../ConcordClient';
import { kvOps } from '../kvOps';
import { isServiceError } from '../serviceError';
import { txnRangeRaw } from '../txnRanges';
import { readBackup } from './BackupFile';

export type RestoreClient = Pick<ConcordClient, 'pushUpdate' | 'kvTxn'>;

export interface RestoreOptions {
  /** Put keys that exist with another value (default: leave them as they are, and name them); keys holding the value are left either way. */
  readonly overwrite?: boolean;
  /** The documents' ack level (default quorum). */
  readonly ack?: Ack;
  /** Documents pushed at once (default 8). */
  readonly concurrency?: number;
  readonly onProgress?: (done: { documents: number; keys: number }) => void;
}

export interface RestoreResult {
  readonly documents: number;
  /** Keys written. */
  readonly keys: number;
  /** Keys that already held the backed-up value. */
  readonly keysUnchanged: number;
  /** Keys attached to a lease when backed up: left out (a lease does not outlive its holder). */
  readonly leasedSkipped: number;
  /** Keys that exist with another value, left as they are (without `overwrite`). */
  readonly conflicts: readonly string[];
  /** Documents whose whole state could not be pushed even in pieces (one struct, such as one insert, past the limit of a client's update), not restored. */
  readonly documentsTooLarge: readonly string[];
}

/** Pieces a document's state is cut into when it is larger than one client update may be (with room for the framing). */
const pieceBytes = updateBytesMax - (64 << 10);

/** Keys per KV transaction (a transaction takes at most 128 compares and operations)... */
const keysPerTxn = 40;
/** ...and bytes of keys and values (a request takes at most 8 MiB; a value at most 1 MiB). */
const bytesPerTxn = 2 << 20;

/**
 * Restores a backup (BackupFile) into a running cluster. The file is read through once to
 * check it (counts, hash) before anything is written, so a damaged or cut-short file changes
 * nothing; the restore then reads the same open file again. Then:
 *
 * - Each document's state is pushed as a Yjs update. Documents are CRDTs, so this merges: into
 *   an empty cluster it brings every document back as it was; into a live one it adds what the
 *   cluster lacks and takes nothing away (a change made since stays, a deletion made since stays
 *   deleted). Restoring twice is harmless. A state larger than a client's update may be (4 MiB)
 *   is pushed in pieces (splitUpdate); one that cannot be cut that fine is named in
 *   `documentsTooLarge` and the others go on.
 * - Each KV key is created if absent. A key that holds the same value is left; one that holds
 *   another is left and named in `conflicts`, unless `overwrite` (then it is put). Keys that were
 *   attached to a lease are left out. Revisions are the target's own (the backup keeps values,
 *   not history).
 */
export async function restoreCluster(client: RestoreClient, file: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const fd = fs.openSync(file, 'r');
  try {
    await readBackup(file, undefined, fd);
    return await restoreFrom(client, file, fd, options);
  } finally {
    fs.closeSync(fd);
  }
}

async function restoreFrom(client: RestoreClient, file: string, fd: number, options: RestoreOptions): Promise<RestoreResult> {
  const done = { documents: 0, keys: 0 };
  let keysUnchanged = 0;
  let leasedSkipped = 0;
  const conflicts: string[] = [];
  const documentsTooLarge: string[] = [];
  const inflight = new Set<Promise<void>>();
  let failed: unknown;
  const limit = Math.max(1, options.concurrency ?? 8);
  let batch: { key: string; value: Uint8Array }[] = [];
  let batchBytes = 0;

  const restoreKeys = async (kvs: readonly { key: string; value: Uint8Array }[]): Promise<void> => {
    if (kvs.length === 0) return;
    const r = await client.kvTxn({
      compare: kvs.map((e) => kvOps.compare('version', e.key, '=', 0)),
      success: kvs.map((e) => kvOps.put(e.key, e.value)),
      failure: kvs.map((e) => kvOps.get(e.key)),
    });
    if (r.succeeded) {
      done.keys += kvs.length;
      return;
    }
    const absent: { key: string; value: Uint8Array }[] = [];
    const differing: { key: string; value: Uint8Array }[] = [];
    kvs.forEach((e, i) => {
      const now = txnRangeRaw(r, i)[0]?.value; // bytes: values need not be text
      if (now === undefined) absent.push(e);
      else if (Buffer.from(now).equals(Buffer.from(e.value))) keysUnchanged++;
      else differing.push(e);
    });
    if (options.overwrite === true && differing.length > 0) {
      await client.kvTxn({ success: differing.map((e) => kvOps.put(e.key, e.value)) });
      done.keys += differing.length;
    } else {
      conflicts.push(...differing.map((e) => e.key));
    }
    // The compares and reads are one view, so at least one key was present: fewer each time.
    await restoreKeys(absent);
  };

  const push = async (id: string, update: Uint8Array): Promise<void> => {
    // A state larger than a client may push at once goes in pieces (runs of structs, then the deletions).
    const pieces = update.byteLength <= updateBytesMax ? [update] : splitUpdate(update, pieceBytes);
    if (pieces === undefined) {
      documentsTooLarge.push(id);
      return;
    }
    try {
      for (const piece of pieces) await client.pushUpdate(id, piece, { ack: options.ack ?? 'quorum' });
    } catch (err) {
      if (!isServiceError(err) || err.code !== status.RESOURCE_EXHAUSTED) throw err;
      documentsTooLarge.push(id);
      return;
    }
    if (++done.documents % 1000 === 0) options.onProgress?.({ ...done });
  };

  const track = async (p: Promise<void>): Promise<void> => {
    const q: Promise<void> = p.catch((err: unknown) => {
      failed ??= err;
    }).finally(() => inflight.delete(q));
    inflight.add(q);
    while (inflight.size >= limit) await Promise.race(inflight);
    if (failed !== undefined) throw failed;
  };

  const flushKeys = async (): Promise<void> => {
    const kvs = batch;
    batch = [];
    batchBytes = 0;
    await restoreKeys(kvs);
    options.onProgress?.({ ...done });
  };

  await readBackup(file, async (e) => {
    if (e.type === 'document') {
      await track(push(e.id, e.update));
      return;
    }
    if (e.lease !== '0') {
      leasedSkipped++;
      return;
    }
    const bytes = Buffer.byteLength(e.key) + e.value.byteLength;
    if (batch.length > 0 && (batch.length >= keysPerTxn || batchBytes + bytes > bytesPerTxn)) await flushKeys();
    batch.push({ key: e.key, value: e.value });
    batchBytes += bytes;
  }, fd);
  await flushKeys();
  await Promise.all(inflight);
  if (failed !== undefined) throw failed;
  options.onProgress?.({ ...done });
  return { ...done, keysUnchanged, leasedSkipped, conflicts, documentsTooLarge };
}
