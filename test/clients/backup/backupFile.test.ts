// The backup file on its own: what is written reads back the same, and a file that is cut short,
// damaged, edited, empty or not a backup is refused whole with a reason; an interrupted
// backup leaves no file under the backup's name.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { BackupEntry, BackupWriter, BadBackupError, readBackup } from '../../../clients/client/backup/BackupFile';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-backup-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function writeSample(file: string, documents = 3, keys = 5): Promise<void> {
  const w = new BackupWriter(file, { createdAt: '2026-01-01T00:00:00.000Z', kvRevision: '42' });
  for (let i = 0; i < keys; i++) await w.kv(`k/${i}`, Buffer.from(`value ${i}`), i === 0 ? '7' : '0');
  for (let i = 0; i < documents; i++) await w.document(`doc/${i}`, new Uint8Array([i, 1, 2, 3]));
  await w.finish();
}

const lines = (file: string): string[] => zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '');
const rewrite = (file: string, ls: string[]): void => fs.writeFileSync(file, zlib.gzipSync(ls.map((l) => `${l}\n`).join('')));

test('what is written reads back the same, in order, with the header and counts', async () => {
  const file = path.join(dir, 'b.gz');
  await writeSample(file);
  const entries: BackupEntry[] = [];
  const summary = await readBackup(file, (e) => {
    entries.push(e);
  });
  expect(summary).toEqual({ header: { format: 'concord-backup/1', createdAt: '2026-01-01T00:00:00.000Z', kvRevision: '42' }, documents: 3, keys: 5 });
  expect(entries.map((e) => (e.type === 'kv' ? [e.key, Buffer.from(e.value).toString(), e.lease] : [e.id, [...e.update]]))).toEqual([
    ['k/0', 'value 0', '7'], ['k/1', 'value 1', '0'], ['k/2', 'value 2', '0'], ['k/3', 'value 3', '0'], ['k/4', 'value 4', '0'],
    ['doc/0', [0, 1, 2, 3]], ['doc/1', [1, 1, 2, 3]], ['doc/2', [2, 1, 2, 3]],
  ]);
  expect(fs.readdirSync(dir)).toEqual(['b.gz']);
});

test('a file cut short, damaged, edited or not a backup is refused with the reason', async () => {
  const file = path.join(dir, 'b.gz');
  await writeSample(file, 50, 50);
  const whole = lines(file);
  const refused = async (f: string): Promise<string> => {
    const err = await readBackup(f).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BadBackupError);
    return (err as Error).message;
  };
  const variant = (name: string, ls: string[]): string => {
    const f = path.join(dir, name);
    rewrite(f, ls);
    return f;
  };
  expect(await refused(variant('no-trailer', whole.slice(0, -1)))).toMatch(/has no trailer \(cut short/);
  const edited = [...whole];
  edited[3] = edited[3]!.replace(/"value":"[^"]*"/, `"value":"${Buffer.from('changed').toString('base64')}"`);
  expect(await refused(variant('edited', edited))).toMatch(/does not match the hash in its trailer/);
  expect(await refused(variant('dropped', [...whole.slice(0, 5), ...whole.slice(6)]))).toMatch(/trailer counts 50 documents and 50 keys, the file holds/);
  expect(await refused(variant('not-json', [...whole.slice(0, 2), '{oops', ...whole.slice(2)]))).toMatch(/line 3 is not JSON/);
  expect(await refused(variant('other-format', [JSON.stringify({ format: 'something/2' }), ...whole.slice(1)]))).toMatch(/header names format "something\/2"/);
  expect(await refused(variant('after-trailer', [...whole, whole[1]!]))).toMatch(/follows the trailer/);
  expect(await refused(variant('empty', []))).toMatch(/it is empty/);
  // Bytes cut from the compressed file, or flipped in it.
  const bytes = fs.readFileSync(file);
  const cut = path.join(dir, 'cut.gz');
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  expect(await refused(cut)).toMatch(/cannot be read|no trailer/);
  const flipped = Buffer.from(bytes);
  flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
  const flippedFile = path.join(dir, 'flipped.gz');
  fs.writeFileSync(flippedFile, flipped);
  expect(await refused(flippedFile)).toMatch(/cannot be read|does not match|not JSON|neither/);
  expect(await refused(path.join(dir, 'missing.gz'))).toMatch(/cannot be read \(ENOENT/);
});

test('a backup abandoned, or not finished, leaves nothing under its name, nor a temporary file', async () => {
  const file = path.join(dir, 'b.gz');
  const w = new BackupWriter(file, { createdAt: 'now', kvRevision: '1' });
  await w.kv('a', Buffer.from('1'), '0');
  expect(fs.existsSync(file)).toBe(false);
  await w.abandon();
  expect(fs.readdirSync(dir)).toEqual([]);
  // Abandoned at once, before anything was written: still nothing left.
  for (let i = 0; i < 200; i++) await new BackupWriter(file, { createdAt: 'now', kvRevision: '1' }).abandon();
  expect(fs.readdirSync(dir)).toEqual([]);
  // Two backups to one name at once do not write into one temporary file.
  const [a, b] = [new BackupWriter(file, { createdAt: 'a', kvRevision: '1' }), new BackupWriter(file, { createdAt: 'b', kvRevision: '2' })];
  await a.kv('from-a', Buffer.from('1'), '0');
  await b.kv('from-b', Buffer.from('2'), '0');
  await a.finish();
  await b.finish();
  const keys: string[] = [];
  expect((await readBackup(file, (e) => void (e.type === 'kv' && keys.push(e.key)))).header.createdAt).toBe('b');
  expect(keys).toEqual(['from-b']);
});

test('a write that fails (a full disk) fails the next call and finish, and abandon leaves nothing', async () => {
  const file = path.join(dir, 'b.gz');
  const w = new BackupWriter(file, { createdAt: 'now', kvRevision: '1' });
  await w.kv('a', Buffer.from('1'), '0');
  (w as unknown as { out: fs.WriteStream }).out.destroy(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  await new Promise((r) => setImmediate(r));
  await expect(w.document('d', new Uint8Array(300_000).fill(7))).rejects.toThrow('ENOSPC');
  await expect(w.finish()).rejects.toThrow('ENOSPC');
  await w.abandon();
  expect(fs.readdirSync(dir)).toEqual([]);
  // A directory that does not exist: refused at once.
  expect(() => new BackupWriter(path.join(dir, 'missing', 'b.gz'), { createdAt: 'now', kvRevision: '1' })).toThrow('ENOENT');
});

test('what the reader\'s callback throws comes out as it is, not as a fault of the file', async () => {
  const file = path.join(dir, 'b.gz');
  await writeSample(file);
  const quota = Object.assign(new Error('RESOURCE_EXHAUSTED: quota'), { code: 8 });
  const err = await readBackup(file, () => {
    throw quota;
  }).then(() => undefined, (e: unknown) => e);
  expect(err).toBe(quota);
});
