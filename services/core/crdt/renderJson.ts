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
    out[name] = kind === 'unknown' ? null : renderValue(getTopLevel(doc, name, kind), kind);
  }
  return out;
}

/** Renders a value; `kind` overrides what the value alone shows (a top-level kind is decided
 * from the whole document, see topLevelKind). */
export function renderValue(value: unknown, kind = kindOfValue(value)): unknown {
  switch (kind) {
    case 'text':
      return (value as Y.Text).toString();
    case 'list':
      return (value as Y.Array<unknown>).toArray().map((v) => renderValue(v));
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
