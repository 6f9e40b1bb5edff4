// Proves the phone's sync protocol against an in-memory stand-in for a node: phones converge,
// remote updates are never pushed back (no echo), edits made offline and edits whose push
// failed are found and sent by the next resync, and a document the node never saw is created
// from the phone's state.
import * as Y from 'yjs';
import { GrpcWebError, grpcStatus } from '../../clients/mobile/src/GrpcWebError';
import { OrderSync, type DocumentSyncApi, type SyncStatus } from '../../clients/mobile/src/OrderSync';
import type { WatchEvent, WriteResponse } from '../../proto/gen/concord/v1/documents';

/** One node holding one document: what PushUpdate/Get/Watch do, minus the network. */
class FakeNode implements DocumentSyncApi {
  readonly doc = new Y.Doc();
  pushes = 0;
  failNextPush = false;
  private written = false;

  async pushUpdate(_id: string, update: Uint8Array): Promise<WriteResponse> {
    if (this.failNextPush) {
      this.failNextPush = false;
      throw new GrpcWebError(grpcStatus.UNAVAILABLE, 'connection lost', new Map(), 'n1');
    }
    this.pushes++;
    this.written = true;
    Y.applyUpdate(this.doc, update, 'client');
    return { version: this.version(), nodeId: 'n1', ackedBy: 1 };
  }

  async get(id: string, stateVector: Uint8Array) {
    if (!this.written) throw new GrpcWebError(grpcStatus.NOT_FOUND, `no document ${id}`, new Map(), 'n1');
    return { json: '', version: this.version(), update: Y.encodeStateAsUpdate(this.doc, stateVector), nodeId: 'n1' };
  }

  async watch(_id: string, fromVersion: Uint8Array, signal: AbortSignal) {
    const queue: Uint8Array[] = fromVersion.length === 0 ? [] : [Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(Y.decodeSnapshot(fromVersion).sv))];
    let wake: (() => void) | undefined;
    const onUpdate = (u: Uint8Array): void => void (queue.push(u), wake?.());
    this.doc.on('update', onUpdate);
    signal.addEventListener('abort', () => wake?.());
    const doc = this.doc;
    async function* messages(): AsyncGenerator<WatchEvent, void> {
      try {
        for (;;) {
          if (signal.aborted) throw new GrpcWebError(grpcStatus.CANCELLED, 'cancelled', new Map(), 'n1');
          const next = queue.shift();
          if (next !== undefined) yield { update: next, version: new Uint8Array(), json: '', origin: 'client' };
          else await new Promise<void>((r) => (wake = r));
        }
      } finally {
        doc.off('update', onUpdate);
      }
    }
    return { servedBy: 'n1', messages: messages() };
  }

  private version(): Uint8Array {
    return Y.encodeSnapshot(Y.snapshot(this.doc));
  }
}

function phone(node: FakeNode): { doc: Y.Doc; sync: OrderSync; live: () => Promise<void> } {
  const doc = new Y.Doc();
  let state: SyncStatus['state'] = 'offline';
  const sync = new OrderSync(doc, node, 'd', (s) => (state = s.state));
  return { doc, sync, live: () => until(() => state === 'live') };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const text = (doc: Y.Doc): string => doc.getText('note').toString();

test('phones converge and never push back what came from the node', async () => {
  const node = new FakeNode();
  const [a, b] = [phone(node), phone(node)];
  a.sync.setOnline(true);
  b.sync.setOnline(true);
  await Promise.all([a.live(), b.live()]);
  a.doc.getText('note').insert(0, 'a');
  await until(() => text(b.doc) === 'a');
  b.doc.getText('note').insert(1, 'b');
  await until(() => text(a.doc) === 'ab' && text(node.doc) === 'ab');
  expect(node.pushes).toBe(2); // one per local edit; the echoes and remote updates were not pushed
  a.sync.setOnline(false);
  b.sync.setOnline(false);
});

test('offline edits and a failed push are sent by the next resync; the node creates the document from the phone', async () => {
  const node = new FakeNode();
  const a = phone(node);
  a.doc.getText('note').insert(0, 'offline ');
  a.sync.setOnline(true); // the node never saw the document: NOT_FOUND, then the whole state goes
  await a.live();
  await until(() => text(node.doc) === 'offline ');
  a.sync.setOnline(false);
  a.doc.getText('note').insert(8, 'edit');
  a.doc.getText('note').delete(0, 1); // a delete alone does not advance the state vector
  node.doc.getText('note').insert(0, '>');
  a.sync.setOnline(true);
  await until(() => text(a.doc) === text(node.doc) && text(node.doc) === '>ffline edit');
  node.failNextPush = true;
  a.doc.getText('note').insert(0, '!');
  await until(() => text(node.doc) === '!>ffline edit');
  a.sync.setOnline(false);
});
