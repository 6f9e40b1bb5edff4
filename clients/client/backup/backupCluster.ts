import { status } from '@grpc/grpc-js';
import * as Y from 'yjs';
import type { ConcordClient } from '../ConcordClient';
import { forEachLimit } from '../forEachLimit';
import { refusedForRole } from '../retryRule';
import { isServiceError } from '../serviceError';
import { BackupWriter } from './BackupFile';

export type BackupKvClient = Pick<ConcordClient, 'kvRange'>;
export type BackupDocumentClient = Pick<ConcordClient, 'list' | 'get'>;

export interface BackupOptions {
  /**
   * Where documents are read: each document from every source that holds it, the states merged
   * (so a write one master acknowledged and has not replicated yet is in the backup). Give one
   * client per master; default: the KV client alone. A source that refuses for its role (a
   * witness holds no documents) is skipped; one that fails otherwise fails the backup, unless
   * `skipUnreachable`.
   */
  readonly documentSources?: readonly { readonly name: string; readonly client: BackupDocumentClient }[];
  /** Skip a source that cannot be listed (say, one side of a split the backup cannot reach), and name it. */
  readonly skipUnreachable?: boolean;
  /** Documents read at once (default 8). */
  readonly concurrency?: number;
  /** Keys and document ids per call (default 1000; a page of keys too large for one message is halved until it fits). */
  readonly pageSize?: number;
  readonly onProgress?: (done: { documents: number; keys: number }) => void;
}

export interface BackupResult {
  readonly documents: number;
  readonly keys: number;
  readonly kvRevision: string;
  /** Sources that hold no documents (witnesses), or (with skipUnreachable) could not be listed, with why. */
  readonly skippedSources: readonly string[];
}

/**
 * Writes a backup of a cluster to `file` (BackupFile): every KV key at one revision (a
 * consistent view of the authoritative store, read linearizably page by page at the revision of
 * the first page), then every document, each one's whole state merged from every source. The
 * file appears only once complete; on failure nothing is left.
 *
 * The KV history is not kept (each key's value at that revision), nor leases: keys are marked
 * with the lease they were attached to, and a restore leaves those out. A backup that runs
 * longer than the KV history kept (auto-compaction) fails with OUT_OF_RANGE: run it again.
 */
export async function backupCluster(client: BackupKvClient & Partial<BackupDocumentClient>, file: string, options: BackupOptions = {}): Promise<BackupResult> {
  const sources = options.documentSources ?? [{ name: 'the client', client: documentClient(client) }];
  let pageSize = Math.max(1, options.pageSize ?? 1000);
  /** A page of keys from `from` on; halved while the answer is too large for one message. */
  const page = async (from: string, revision: bigint | undefined): Promise<Awaited<ReturnType<ConcordClient['kvRange']>>> => {
    for (;;) {
      try {
        return await client.kvRange(from, { rangeEnd: '\u0000', limit: pageSize, revision });
      } catch (err) {
        if (!isServiceError(err) || err.code !== status.RESOURCE_EXHAUSTED || pageSize === 1) throw err;
        pageSize = Math.max(1, Math.floor(pageSize / 2));
      }
    }
  };
  const first = await page('\u0000', undefined);
  const kvRevision = first.header?.revision ?? 0n;
  const out = new BackupWriter(file, { createdAt: new Date().toISOString(), kvRevision: String(kvRevision) });
  const done = { documents: 0, keys: 0 };
  try {
    for (let p = first; ;) {
      for (const e of p.kvs) await out.kv(e.key, e.value, String(e.lease));
      done.keys += p.kvs.length;
      options.onProgress?.({ ...done });
      const last = p.kvs[p.kvs.length - 1];
      if (!p.more || last === undefined) break;
      p = await page(`${last.key}\u0000`, kvRevision);
    }
    const skippedSources: string[] = [];
    const holders = new Map<string, BackupDocumentClient[]>();
    for (const source of sources) {
      try {
        for (let startAfter = ''; ;) {
          const res = await source.client.list('', { startAfter, limit: Math.min(pageSize, 10_000) });
          for (const d of res.documents) {
            const h = holders.get(d.documentId);
            if (h === undefined) holders.set(d.documentId, [source.client]);
            else h.push(source.client);
          }
          if (res.nextStartAfter === '') break;
          startAfter = res.nextStartAfter;
        }
      } catch (err) {
        const skip = isServiceError(err) && (refusedForRole({ phase: 'sent', error: err }) || options.skipUnreachable === true);
        if (!skip) throw new Error(`the documents of ${source.name} could not be listed (${err instanceof Error ? err.message : String(err)}); nothing was written`, { cause: err });
        skippedSources.push(`${source.name}: ${err.details}`);
      }
    }
    if (skippedSources.length === sources.length) throw new Error(`no source could list the documents (${skippedSources.join('; ')}); nothing was written`);
    const order = [...holders.keys()].sort();
    await forEachLimit(order.length, options.concurrency ?? 8, async (i) => {
      const id = order[i] as string;
      const updates: Uint8Array[] = [];
      for (const holder of holders.get(id) ?? []) {
        try {
          updates.push((await holder.get(id, { includeUpdate: true })).update);
        } catch (err) {
          // Listed, then gone from this source (none are ever deleted): the others hold it.
          if (!isServiceError(err) || err.code !== status.NOT_FOUND) throw err;
        }
      }
      if (updates.length === 0) return;
      await out.document(id, updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates));
      if (++done.documents % 1000 === 0) options.onProgress?.({ ...done });
    });
    options.onProgress?.({ ...done });
    const counts = await out.finish();
    return { ...counts, kvRevision: String(kvRevision), skippedSources };
  } catch (err) {
    await out.abandon();
    throw err;
  }
}

function documentClient(client: BackupKvClient & Partial<BackupDocumentClient>): BackupDocumentClient {
  const { list, get } = client;
  if (list === undefined || get === undefined) throw new Error('backupCluster: give documentSources, or a client that also lists and reads documents');
  return { list: list.bind(client), get: get.bind(client) };
}
