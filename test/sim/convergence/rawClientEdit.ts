import * as Y from 'yjs';
import { Prng } from '../prng';
import { Effect, fields, mapKeys, OpHistory } from './OpHistory';

/**
 * A client that runs Yjs (the mobile app): it loads the document it read into its own Y.Doc
 * with its own client id, makes one or two edits on the plain Yjs types, and returns the diff
 * (the update the replica lacks), or undefined when the edits changed nothing. With `replyTo`
 * (an edit another client just made) it first answers that edit: sets the same key, or writes
 * right after the inserted token, so its edit builds on the items that edit created.
 */
export function rawClientEdit(
  state: Uint8Array | undefined,
  clientId: number,
  prng: Prng,
  history: OpHistory,
  replyTo?: Effect,
): { update: Uint8Array | undefined; effects: Effect[] } {
  // A fixed guid: the default draws a random uuid (and a run must not read Math.random).
  const client = new Y.Doc({ gc: true, guid: 'sim-client' });
  client.clientID = clientId;
  if (state !== undefined) Y.applyUpdate(client, state);
  const before = Y.encodeStateVector(client);
  const effects: Effect[] = [];
  if (replyTo !== undefined) reply(client, replyTo, history, effects);
  const edits = 1 + prng.int(2);
  for (let i = 0; i < edits; i++) {
    const pick = prng.int(3);
    if (pick === 0) {
      const text = client.getText(fields.text);
      const s = text.toString();
      if (s.length > 0 && prng.chance(0.35)) {
        const index = prng.int(s.length);
        effects.push({ kind: 'delete', field: fields.text, token: s.charAt(index) });
        text.delete(index, 1);
      } else {
        const token = history.textToken();
        effects.push({ kind: 'insert', field: fields.text, token });
        text.insert(prng.int(s.length + 1), token);
      }
    } else if (pick === 1) {
      const list = client.getArray<unknown>(fields.list);
      if (list.length > 0 && prng.chance(0.35)) {
        const index = prng.int(list.length);
        effects.push({ kind: 'delete', field: fields.list, token: String(list.get(index)) });
        list.delete(index, 1);
      } else {
        const token = history.listToken();
        effects.push({ kind: 'insert', field: fields.list, token });
        list.insert(prng.int(list.length + 1), [token]);
      }
    } else {
      const map = client.getMap<unknown>(fields.map);
      const key = prng.pick(mapKeys);
      if (map.has(key) && prng.chance(0.2)) {
        effects.push({ kind: 'unset', key });
        map.delete(key);
      } else {
        const value = history.mapValue();
        effects.push({ kind: 'set', key, value });
        map.set(key, value);
      }
    }
  }
  const update = Y.encodeStateAsUpdate(client, before);
  client.destroy();
  return { update: effects.length > 0 ? update : undefined, effects };
}

function reply(client: Y.Doc, to: Effect, history: OpHistory, effects: Effect[]): void {
  if (to.kind === 'set') {
    const value = history.mapValue();
    effects.push({ kind: 'set', key: to.key, value });
    client.getMap<unknown>(fields.map).set(to.key, value);
  } else if (to.kind === 'insert' && to.field === fields.text) {
    const text = client.getText(fields.text);
    const at = text.toString().indexOf(to.token);
    if (at < 0) return;
    const token = history.textToken();
    effects.push({ kind: 'insert', field: fields.text, token });
    text.insert(at + 1, token);
  } else if (to.kind === 'insert') {
    const list = client.getArray<unknown>(fields.list);
    const at = list.toArray().indexOf(to.token);
    if (at < 0) return;
    const token = history.listToken();
    effects.push({ kind: 'insert', field: fields.list, token });
    list.insert(at + 1, [token]);
  }
}
