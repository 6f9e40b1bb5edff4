// restoreCluster against a fake cluster that records what it is sent: a document whose state is
// larger than a client's update goes in pieces that rebuild it (a text struct past the limit is
// cut); one holding a binary past that limit (a backup file may, a client could not have written
// it) is named and skipped while the others are restored.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as Y from 'yjs';
import type { TxnResponse } from '../../../proto/gen/concord/v1/kv';
import { BackupWriter } from '../../../clients/client/backup/BackupFile';
import { restoreCluster, type RestoreClient } from '../../../clients/client/backup/restoreCluster';
import { updateBytesMax } from '../../../services/core/crdt/validateUpdate';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-restore-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a large document goes in pieces that rebuild it; one with a struct past the limit is named, the others restored', async () => {
  const doc = (inserts: string[], blob?: number): Uint8Array => {
    const d = new Y.Doc();
    for (const s of inserts) d.getText('t').insert(0, s);
    d.getText('t').delete(0, 10);
    if (blob !== undefined) d.getMap('m').set('blob', new Uint8Array(blob)); // one struct of one element
    return Y.encodeStateAsUpdate(d);
  };
  const states = {
    'split/me': doc(['a'.repeat(3 << 20), 'b'.repeat(3 << 20)]),
    'cut/me': doc(['c'.repeat(5 << 20)]), // one struct, cut at a character
    'one/struct': doc(['d'.repeat(100)], 5 << 20),
    small: doc(['hello world, again']),
  };
  const file = path.join(dir, 'b.gz');
  const w = new BackupWriter(file, { createdAt: 'now', kvRevision: '1' });
  for (const [id, update] of Object.entries(states)) await w.document(id, update);
  await w.finish();
  const pushed = new Map<string, Uint8Array[]>();
  const fake: RestoreClient = {
    pushUpdate: async (id, update) => {
      if (update.byteLength > updateBytesMax) throw Object.assign(new Error('too large'), { code: 8, details: 'too large', metadata: undefined });
      pushed.set(id, [...(pushed.get(id) ?? []), update]);
      return { version: new Uint8Array(), nodeId: 'fake', ackedBy: 1 };
    },
    kvTxn: async () => ({ succeeded: true, responses: [] } as unknown as TxnResponse),
  };
  const res = await restoreCluster(fake, file);
  expect(res).toMatchObject({ documents: 3, documentsTooLarge: ['one/struct'] });
  expect(pushed.get('cut/me')!.length).toBeGreaterThan(1);
  expect(pushed.get('split/me')!.length).toBeGreaterThan(1);
  for (const [id, pieces] of pushed) {
    const rebuilt = new Y.Doc();
    for (const p of pieces) Y.applyUpdate(rebuilt, p);
    const expected = new Y.Doc();
    Y.applyUpdate(expected, states[id as keyof typeof states]);
    expect([id, rebuilt.getText('t').toString() === expected.getText('t').toString()]).toEqual([id, true]);
  }
});
