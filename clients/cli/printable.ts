// `--json` output: protobuf messages carry Buffers (version tokens, updates) and bigints
// (uint64 counters) that JSON.stringify cannot show usefully. Bytes become hex, as everywhere in
// the CLI's output, and bigints become numbers while they are exact, strings beyond that.

export function printable(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (Array.isArray(value)) return value.map(printable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, printable(item)]));
  }
  return value;
}

export function toJsonLine(value: unknown): string {
  return JSON.stringify(printable(value));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Parses a document's JSON rendering for display; a node's non-JSON answer is shown raw. */
export function parseDocumentJson(json: string): unknown {
  if (json === '') return null;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}
