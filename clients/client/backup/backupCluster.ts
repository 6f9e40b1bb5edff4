import { status } from '@grpc/grpc-js';
import * as Y from 'yjs';
import type { ConcordClient } from '../ConcordClient';
import { isServiceError } from '../serviceError';
import { BackupWriter } from './BackupFile';

export type BackupKvClient = Pick<ConcordClient, 'kvRange'>;
export type BackupDocumentClient = Pick<ConcordClient, 'list' | 'get'>;

export interface BackupOptions {
  /**
   * Where documents are read: each document from every source that holds it, the states merged
   * (so a write one master acknowledged and has not replicated yet is in the backup). Give one
   * client per master; default: the KV client alone.
   */
  readonly documentSources?: readonly { readonly name: string; readonly client: BackupDocumentClient }[];
  /** Documents read at once (default 8). */
  readonly concurrency?: number;
  /** Keys and document ids per call (default 1000). */
  readonly pageSize?: number;
  readonly onProgress?: (done: { documents: number; keys: number }) => void;
}

export interface BackupResult {
  readonly documents: number;
  readonly keys: number;
  readonly kvRevision: string;
  /** Sources that hold no documents (witnesses, replicas refusing) or could not be listed, with why. */
  readonly skippedSources: readonly string[];
}

/**
 * Writes a backup of a cluster to `file` (BackupFile): every KV key at one revision (a
 * consistent view of the authoritative store, read linearizably page by page at the revision
 * of the first page), then every document, each one's whole state merged from every source.
 * The file appears only once complete; on failure nothing is left.
 *
 * The KV history is not kept (each key's value at that revision), nor leases: keys are marked
 * with the lease they were attached to, and a restore leaves those out. A backup that runs
 * longer than the KV history kept (auto-compaction) fails with OUT_OF_RANGE: run it again.
 */
export async function backupCluster(kv: BackupKvClient, file: string, options: BackupOptions = {}): Promise<BackupResult> {
  const pageSize = options.pageSize ?? 1000;
  const sources = options.documentSources ?? [{ name: 'the client', client: kv as unknown as BackupDocumentClient }];
  const first = await kv.kvRange('\u0000', { rangeEnd: '\u0000', limit: pageSize });
  const kvRevision = first.header?.revision ?? 0n;
  const out = new BackupWriter(file, { createdAt: new Date().toISOString(), kvRevision: String(kvRevision) });
  const done = { documents: 0, keys: 0 };
  try {
    for (let page = first; ;) {
      for (const e of page.kvs) await out.kv(e.key, e.value, String(e.lease));
      done.keys += page.kvs.length;
      options.onProgress?.({ ...done });
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) break;
      page = await kv.kvRange(`${last.key}\u0000`, { rangeEnd: '\u0000', limit: pageSize, revision: kvRevision });
    }
    const skippedSources: string[] = [];
    const ids = new Set<string>();
    const holders = new Map<string, BackupDocumentClient[]>();
    for (const source of sources) {
      try {
        for (let startAfter = ''; ;) {
          const res = await source.client.list('', { startAfter, limit: pageSize });
          for (const d of res.documents) {
            ids.add(d.documentId);
            const h = holders.get(d.documentId);
            if (h === undefined) holders.set(d.documentId, [source.client]);
            else h.push(source.client);
          }
          if (res.nextStartAfter === '') break;
          startAfter = res.nextStartAfter;
        }
      } catch (err) {
        if (!isServiceError(err) || sources.length === 1) throw err;
        skippedSources.push(`${source.name}: ${err.details}`);
      }
    }
    if (skippedSources.length === sources.length) throw new Error(`no source could list the documents (${skippedSources.join('; ')})`);
    const order = [...ids].sort();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, order.length) }, async () => {
      for (let i = next++; i < order.length; i = next++) {
        const id = order[i] as string;
        const updates: Uint8Array[] = [];
        for (const client of holders.get(id) ?? []) {
          try {
            updates.push((await client.get(id, { includeUpdate: true })).update);
          } catch (err) {
            // Listed, then gone from this source (none are ever deleted): the others hold it.
            if (!isServiceError(err) || err.code !== status.NOT_FOUND) throw err;
          }
        }
        if (updates.length === 0) continue;
        await out.document(id, updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates));
        if (++done.documents % pageSize === 0) options.onProgress?.({ ...done });
      }
    }));
    options.onProgress?.({ ...done });
    const counts = await out.finish();
    return { ...counts, kvRevision: String(kvRevision), skippedSources };
  } catch (err) {
    await out.abandon();
    throw err;
  }
}
