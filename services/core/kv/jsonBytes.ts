/**
 * JSON reviver for the KV log entries of earlier versions, which kept Uint8Array values as
 * { $bytes: base64 } (see commandCodec).
 */
export function bytesReviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && '$bytes' in value && typeof (value as { $bytes: unknown }).$bytes === 'string') {
    const s = atob((value as { $bytes: string }).$bytes);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  return value;
}
