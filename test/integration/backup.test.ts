import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { backupCluster } from '../../clients/client/backup/backupCluster';
import { BadBackupError, readBackup } from '../../clients/client/backup/BackupFile';
import { restoreCluster, type RestoreResult } from '../../clients/client/backup/restoreCluster';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { ops } from '../../clients/client/ops';
import { freeLoopbackPorts } from '../../clients/cli/freeLoopbackPorts';
import { concordInProcess as concord } from '../clients/concordInProcess';
import { healAllLinks, isolateNode } from './isolateNode';
import { eventually } from './nodeStubs';
import { startTestCluster, type TestCluster } from './startTestCluster';

// Backup and restore on real clusters: `concord backup` of a three-node cluster, taken while one
// node is cut off and holds a write the others lack (the backup merges every node's documents,
// so that write is in it), KV keys over several pages at one revision, a leased key; then
// `concord restore` into a new cluster: documents and keys as they were, the leased key left
// out, a key that exists with another value left and named (then replaced with --overwrite),
// restoring twice changes nothing, and a damaged file is refused before anything is written.

jest.setTimeout(120_000);

let source: TestCluster | undefined;
let target: TestCluster | undefined;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-backup-it-'));
  [source, target] = await Promise.all([startTestCluster(3), startTestCluster(1)]);
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const text = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : Buffer.from(v).toString());

test('a backup of a split cluster holds every node\'s writes; restored into a new cluster, documents and keys are as they were', async () => {
  const src = source!;
  const dst = target!;
  const all = src.cluster.nodes.map((n) => n.address);
  const client = new ConcordClient({ endpoints: all, deadlineMs: 5000 });
  const n3 = new ConcordClient({ endpoints: [all[2]!], deadlineMs: 5000 });
  const into = new ConcordClient({ endpoints: dst.cluster.nodes.map((n) => n.address), deadlineMs: 5000 });
  try {
    for (let i = 0; i < 12; i++) await client.apply(`shop/order-${i}`, [ops.set(['order', 'items'], [`item ${i}`]), ops.counterAdd(['order', 'total'], i)], { ack: 'all' });
    for (let i = 0; i < 30; i++) await client.kvPut(`cfg/${String(i).padStart(2, '0')}`, `value ${i}`);
    const lease = await client.leaseGrant(60_000);
    await client.kvPut('owners/session', 'held', { lease: lease.id });
    // n3 is cut off and takes a write of its own; n1 takes one on another document.
    await isolateNode(src, 2);
    try {
      // The majority side has a leader (a new one, if n3 led) before the backup reads the keys.
      await eventually('a leader on the majority side', async () => (await client.kvRange('cfg/00', { deadlineMs: 1000 })).kvs.length === 1, 20_000);
      await n3.apply('notes/cut-off', [ops.textInsert(['body'], 0, 'written on n3 alone')], { ack: 'local' });
      await client.apply('shop/order-0', [ops.set(['order', 'status'], 'paid')], { ack: 'local' });
      const file = path.join(dir, 'cluster.backup.gz');
      const res = await concord('backup', file, '--endpoints', all.join(','));
      expect(res).toMatchObject({ code: 0, err: [] });
      expect(res.out[0]).toMatch(/^backed up 31 keys \(revision \d+\) and 13 documents to /);
    } finally {
      await healAllLinks(src);
    }
    const file = path.join(dir, 'cluster.backup.gz');
    // Once healed, the source converges to what the backup merged (no write came after it).
    await eventually('n1 has n3\'s note', async () => (await client.get('notes/cut-off')).json.includes('written on n3 alone'), 20_000);
    const expected = new Map<string, unknown>();
    for (const d of (await client.list('', { limit: 100 })).documents) expected.set(d.documentId, JSON.parse((await client.get(d.documentId)).json));
    expect(expected.size).toBe(13);
    expect(expected.get('shop/order-0')).toEqual({ order: { items: ['item 0'], total: 0, status: 'paid' } });

    // Into a new cluster, where one key already holds the same value and one another value.
    await into.kvPut('cfg/00', 'value 0');
    await into.kvPut('cfg/01', 'changed since');
    const restored = await concord('restore', file, '--endpoints', dst.cluster.nodes.map((n) => n.address).join(','), '--json');
    expect(restored.code).toBe(3); // restored, with a key left as it is
    expect(JSON.parse(restored.out[0]!)).toEqual({ documents: 13, keys: 28, keysUnchanged: 1, leasedSkipped: 1, conflicts: ['cfg/01'], documentsTooLarge: [] });
    for (const [id, json] of expected) expect([id, JSON.parse((await into.get(id)).json)]).toEqual([id, json]);
    const kvs = (await into.kvRange('', { rangeEnd: '\u0000' })).kvs.map((kv) => [kv.key, text(kv.value)]);
    expect(kvs).toEqual(Array.from({ length: 30 }, (_, i) => [`cfg/${String(i).padStart(2, '0')}`, i === 1 ? 'changed since' : `value ${i}`]));

    // Again: nothing new; with --overwrite the differing key takes the backed-up value.
    expect(await restoreCluster(into, file)).toEqual({ documents: 13, keys: 0, keysUnchanged: 29, leasedSkipped: 1, conflicts: ['cfg/01'], documentsTooLarge: [] });
    expect(await restoreCluster(into, file, { overwrite: true })).toEqual({ documents: 13, keys: 1, keysUnchanged: 29, leasedSkipped: 1, conflicts: [], documentsTooLarge: [] });
    expect(text((await into.kvRange('cfg/01')).kvs[0]?.value)).toBe('value 1');
    for (const [id, json] of expected) expect([id, JSON.parse((await into.get(id)).json)]).toEqual([id, json]);
  } finally {
    client.close();
    n3.close();
    into.close();
  }
});

test('keys are read at one revision across pages; a damaged backup is refused before anything is written', async () => {
  const src = source!;
  const client = new ConcordClient({ endpoints: src.cluster.nodes.map((n) => n.address), deadlineMs: 5000 });
  const into = new ConcordClient({ endpoints: target!.cluster.nodes.map((n) => n.address), deadlineMs: 5000 });
  try {
    for (let i = 0; i < 25; i++) await client.kvPut(`paged/${String(i).padStart(2, '0')}`, 'before');
    const file = path.join(dir, 'paged.backup.gz');
    // Writes land between the pages: the backup still shows the keys as they were at its revision.
    let pages = 0;
    const between: Pick<ConcordClient, 'kvRange'> = {
      kvRange: async (key, options) => {
        if (++pages === 2) {
          await client.kvPut('paged/00', 'after');
          await client.kvPut('paged/24', 'after');
        }
        return client.kvRange(key, options);
      },
    };
    const res = await backupCluster(between, file, { pageSize: 4, documentSources: [{ name: 'the cluster', client }] });
    expect(pages).toBeGreaterThan(8);
    const seen = new Map<string, string>();
    await readBackup(file, (e) => {
      if (e.type === 'kv' && e.key.startsWith('paged/')) seen.set(e.key, Buffer.from(e.value).toString());
    });
    expect(seen.size).toBe(25);
    expect([...seen.values()].every((v) => v === 'before')).toBe(true);
    expect(BigInt(res.keys)).toBe((await client.kvRange('', { rangeEnd: '\u0000', revision: BigInt(res.kvRevision), countOnly: true })).count);

    // One value changed inside the file (the gzip rebuilt, so only the hash can tell): refused whole.
    const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"paged/05"'));
    lines[i] = JSON.stringify({ kv: 'paged/new-key', value: Buffer.from('x').toString('base64'), lease: '0' });
    const damaged = path.join(dir, 'damaged.backup.gz');
    fs.writeFileSync(damaged, zlib.gzipSync(lines.join('\n')));
    await expect(restoreCluster(into, damaged)).rejects.toBeInstanceOf(BadBackupError);
    expect((await into.kvRange('paged/', { prefix: true })).kvs).toEqual([]);
    const cli = await concord('restore', damaged, '--endpoints', target!.cluster.nodes.map((n) => n.address).join(','));
    expect(cli.code).toBe(1);
    expect(cli.err.join('\n')).toMatch(/is not a usable Concord backup: its content does not match the hash in its trailer/);
    expect((await concord('backup-check', file)).out[0]).toMatch(/: whole; \d+ keys \(revision \d+\) and \d+ documents/);
  } finally {
    client.close();
    into.close();
  }
});

test('binary and large values restore in batches that fit a request; documents past the client update limit go in pieces; an unreachable node fails the backup unless skipped', async () => {
  const src = source!;
  const all = src.cluster.nodes.map((n) => n.address);
  const client = new ConcordClient({ endpoints: all, deadlineMs: 10_000 });
  const into = new ConcordClient({ endpoints: target!.cluster.nodes.map((n) => n.address), deadlineMs: 10_000 });
  try {
    // Twelve values of 900 KiB, not UTF-8: over 10 MiB together, more than one request may carry.
    const big = (i: number): Buffer => Buffer.alloc(900 << 10, i).fill(0xff, 0, 1);
    for (let i = 0; i < 12; i++) await client.kvPut(`blob/${String(i).padStart(2, '0')}`, big(i));
    // Documents grown past the 4 MiB a client may push at once, by writes under it: restored in
    // pieces. The writes all go through one node, so each follows the one before (the appends
    // merge there into one struct of 4.8 MiB). LOCAL: after megabytes of writes on a loaded
    // machine the links can miss their heartbeats, and QUORUM or ALL then fail fast; the backup
    // reads every node and merges what each holds anyway.
    const one = new ConcordClient({ endpoints: [all[0]!], deadlineMs: 10_000 });
    try {
      for (let i = 0; i < 2; i++) await one.apply('big/prepended', [ops.textInsert(['doc', 'body'], 0, String(i).repeat(3 << 20))], { ack: 'local' });
      for (let i = 0; i < 6; i++) await one.apply('big/appended', [ops.textInsert(['doc', 'body'], i * (800 << 10), String(i).repeat(800 << 10))], { ack: 'local' });
    } finally {
      one.close();
    }
    const file = path.join(dir, 'large.backup.gz');
    const down = `127.0.0.1:${(await freeLoopbackPorts(1))[0]!}`; // nothing listens there
    const refused = await concord('backup', file, '--endpoints', [...all, down].join(','));
    expect(refused.code).toBe(1);
    expect(refused.err.join('\n')).toMatch(new RegExp(`the documents of ${down.replace(/\./g, '\\.')} could not be listed .*nothing was written`));
    expect(fs.existsSync(file)).toBe(false);
    const skipped = await concord('backup', file, '--endpoints', [...all, down].join(','), '--skip-unreachable');
    expect(skipped.code).toBe(0);
    expect(skipped.out.join('\n')).toMatch(new RegExp(`documents not read from ${down.replace(/\./g, '\\.')}`));

    const res = await concord('restore', file, '--endpoints', target!.cluster.nodes.map((n) => n.address).join(','), '--json');
    expect(res.code).toBe(0);
    const first = JSON.parse(res.out[0]!) as RestoreResult;
    expect(first).toMatchObject({ documentsTooLarge: [] });
    const body = async (id: string): Promise<string> => (JSON.parse((await into.get(id)).json) as { doc: { body: string } }).doc.body;
    expect(await body('big/prepended')).toBe(`${'1'.repeat(3 << 20)}${'0'.repeat(3 << 20)}`);
    expect(await body('big/appended')).toBe(Array.from({ length: 6 }, (_, i) => String(i).repeat(800 << 10)).join(''));
    expect(first.keys).toBeGreaterThanOrEqual(12);
    for (let i = 0; i < 12; i++) expect(Buffer.from((await into.kvRange(`blob/${String(i).padStart(2, '0')}`)).kvs[0]!.value).equals(big(i))).toBe(true);
    // Byte for byte the same: unchanged, not conflicts.
    expect(await restoreCluster(into, file)).toMatchObject({ keys: 0, keysUnchanged: first.keys + first.keysUnchanged, conflicts: first.conflicts });
  } finally {
    client.close();
    into.close();
  }
});
