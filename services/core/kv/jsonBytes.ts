/**
 * JSON replacer/reviver for the KV log entries in the format earlier versions read: Uint8Array
 * values as { $bytes: base64 } (see commandCodec). The replacer looks at the holder's raw value:
 * a Buffer's toJSON has already run by the time `value` arrives.
 */
export function bytesReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) {
    let s = '';
    for (const b of raw) s += String.fromCharCode(b);
    return { $bytes: btoa(s) };
  }
  return value;
}

export function bytesReviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && '$bytes' in value && typeof (value as { $bytes: unknown }).$bytes === 'string') {
    const s = atob((value as { $bytes: string }).$bytes);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  return value;
}
