import * as Y from 'yjs';
import { getTopLevel, kindOfValue, topLevelKind } from './sharedKinds';
import { counterMarkerKey, kindsTypeName } from './typedOperation';

/**
 * The document as JSON: one key per top-level type (sorted), maps with sorted keys, counters as
 * the sum of their per-client entries. Rendering depends only on the document's content, so
 * replicas with equal state render byte-identical JSON.
 */
export function renderJson(doc: Y.Doc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of [...doc.share.keys()].sort()) {
    if (name === kindsTypeName) continue;
    const kind = topLevelKind(doc, name);
    if (kind === 'empty') continue; // instantiated locally but never written: not part of the state
    out[name] = kind === 'unknown' ? null : renderValue(getTopLevel(doc, name, kind));
  }
  return out;
}

export function renderValue(value: unknown): unknown {
  switch (kindOfValue(value)) {
    case 'text':
      return (value as Y.Text).toString();
    case 'list':
      return (value as Y.Array<unknown>).toArray().map(renderValue);
    case 'counter': {
      const map = value as Y.Map<unknown>;
      // Sum in key order so every replica adds the same floats in the same order.
      let sum = 0;
      for (const key of [...map.keys()].sort()) {
        const v = map.get(key);
        if (key !== counterMarkerKey && typeof v === 'number') sum += v;
      }
      return sum;
    }
    case 'map': {
      const map = value as Y.Map<unknown>;
      const obj: Record<string, unknown> = {};
      for (const key of [...map.keys()].sort()) obj[key] = renderValue(map.get(key));
      return obj;
    }
    case undefined:
      return value instanceof Uint8Array ? Array.from(value) : value;
  }
}
