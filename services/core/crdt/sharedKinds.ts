import * as Y from 'yjs';
import { counterMarkerKey, kindsTypeName } from './typedOperation';

/** The kinds of container a typed operation can address. */
/** The Yjs types a container can be. */
export type SharedType = Y.Map<unknown> | Y.Array<unknown> | Y.Text;

export type ContainerKind = 'map' | 'list' | 'text' | 'counter';

/**
 * The kind of a value found inside the document, or undefined for plain JSON values. A counter
 * is a Y.Map holding the marker key plus one entry per Yjs client id (a PN-counter: every
 * client only ever rewrites its own entry, so concurrent adds never overwrite each other).
 */
export function kindOfValue(value: unknown): ContainerKind | undefined {
  if (value instanceof Y.Text) return 'text';
  if (value instanceof Y.Array) return 'list';
  if (value instanceof Y.Map) return value.has(counterMarkerKey) ? 'counter' : 'map';
  return undefined;
}

/**
 * The kind of a top-level type, decided from the document's content only, never from what this
 * node happened to instantiate, so every replica renders the same JSON. Typed operations record
 * the kind in the `$kinds` map; for types written by raw Yjs clients it is inferred from the
 * items; an empty sequence whose items were all garbage-collected stays unknown.
 */
export function topLevelKind(doc: Y.Doc, name: string): ContainerKind | 'empty' | 'unknown' {
  const type = doc.share.get(name);
  if (type === undefined) return 'empty';
  const recorded = kindsRegistry(doc)?.get(name);
  if (recorded === 'map' || recorded === 'list' || recorded === 'text' || recorded === 'counter') return recorded;
  if (type._map.size > 0) {
    // A marker item marks a counter even when a concurrent marker replaced (deleted) it:
    // typed operations never delete one.
    if (type._map.has(counterMarkerKey)) return 'counter';
    return looksLikeCounter(type._map) ? 'counter' : 'map';
  }
  if (type._start === null) return 'empty';
  for (let item: Y.Item | null = type._start; item !== null; item = item.right) {
    const content = item.content;
    if (content instanceof Y.ContentDeleted) continue;
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) return 'text';
    return 'list';
  }
  return 'unknown';
}

/** Returns the `$kinds` registry if some replica ever wrote it, without creating it. */
export function kindsRegistry(doc: Y.Doc): Y.Map<unknown> | undefined {
  const t = doc.share.get(kindsTypeName);
  if (t === undefined || t._map.size === 0) return undefined;
  return doc.getMap(kindsTypeName);
}

/** Instantiates (or returns) a top-level type as `kind`; the caller checked the kind fits. */
export function getTopLevel(doc: Y.Doc, name: string, kind: ContainerKind): SharedType {
  switch (kind) {
    case 'text':
      return doc.getText(name);
    case 'list':
      return doc.getArray(name);
    case 'map':
    case 'counter':
      return doc.getMap(name);
  }
}

/**
 * A top-level counter has no creation item: an add from one replica (an entry keyed by its
 * client id) can arrive before the update that created the counter and recorded its kind. Such
 * a map, holding only client-id keys with numbers, is read as the counter it is part of. (Typed
 * map writes record the kind "map" in the same transaction, so they are never mistaken.)
 */
function looksLikeCounter(entries: Map<string, Y.Item>): boolean {
  // Deleted entries count: an add deletes its client's previous entry, and that delete applies
  // at once even while the new entry waits (pending) for an earlier update of the same client.
  for (const [key, item] of entries) {
    if (!/^\d+$/.test(key)) return false;
    const content = item.content;
    if (!item.deleted && !(content instanceof Y.ContentAny && typeof content.arr[0] === 'number')) return false;
  }
  return entries.size > 0;
}
