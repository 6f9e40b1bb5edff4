// gRPC-Web framing (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md): every message
// is a 5-byte prefix (flag, big-endian length) plus payload; the status travels in a last frame
// with flag 0x80 whose payload is HTTP/1-style header lines. Pure and dependency-free on purpose:
// the gateway (Node) and the phone app (browser) share this one tested implementation.

export const dataFrameFlag = 0x00;
export const trailerFrameFlag = 0x80;
const compressedFlag = 0x01;
const prefixBytes = 5;

export interface Frame {
  readonly trailer: boolean;
  readonly payload: Uint8Array;
}

export class FramingError extends Error {}

export function encodeFrame(payload: Uint8Array, trailer = false): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefixBytes + payload.byteLength);
  out[0] = trailer ? trailerFrameFlag : dataFrameFlag;
  new DataView(out.buffer).setUint32(1, payload.byteLength, false);
  out.set(payload, prefixBytes);
  return out;
}

/** A trailer frame: lowercase `key: value` lines, CRLF-terminated, values already header-safe. */
export function encodeTrailerFrame(trailers: Iterable<readonly [string, string]>): Uint8Array<ArrayBuffer> {
  let text = '';
  for (const [key, value] of trailers) text += `${key.toLowerCase()}: ${value}\r\n`;
  return encodeFrame(new TextEncoder().encode(text), true);
}

/** Parses a trailer frame's payload; a key seen twice keeps both values, joined by ", ". */
export function parseTrailers(payload: Uint8Array): Map<string, string> {
  const trailers = new Map<string, string>();
  for (const line of new TextDecoder().decode(payload).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = trailers.get(key);
    trailers.set(key, before === undefined ? value : `${before}, ${value}`);
  }
  return trailers;
}

/**
 * Cuts a byte stream into frames as chunks arrive (HTTP chunks do not respect frame borders).
 * Refuses compressed frames (this edge never negotiates compression) and frames over the limit,
 * before buffering them.
 */
export class FrameDecoder {
  private buffer: Uint8Array = new Uint8Array(0);

  constructor(private readonly maxFrameBytes = 64 << 20) {}

  push(chunk: Uint8Array): Frame[] {
    this.buffer = concat(this.buffer, chunk);
    const frames: Frame[] = [];
    let offset = 0;
    while (this.buffer.byteLength - offset >= prefixBytes) {
      const flag = this.buffer[offset] ?? 0;
      if ((flag & compressedFlag) !== 0) throw new FramingError('compressed gRPC-Web frames are not supported');
      const length = new DataView(this.buffer.buffer, this.buffer.byteOffset + offset + 1, 4).getUint32(0, false);
      if (length > this.maxFrameBytes) throw new FramingError(`gRPC-Web frame of ${length} bytes is over the limit of ${this.maxFrameBytes}`);
      if (this.buffer.byteLength - offset - prefixBytes < length) break;
      const start = offset + prefixBytes;
      frames.push({ trailer: (flag & trailerFrameFlag) !== 0, payload: this.buffer.slice(start, start + length) });
      offset = start + length;
    }
    this.buffer = this.buffer.slice(offset);
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest; non-zero at the end is truncation. */
  get pendingBytes(): number {
    return this.buffer.byteLength;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/**
 * grpc-message is percent-encoded (gRPC spec): bytes outside printable ASCII, and '%', become
 * %XX of their UTF-8 encoding, so a status message survives the header/trailer syntax.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeGrpcMessage(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    // Not valid percent-encoding (a peer that did not encode): show it as it came.
    return encoded;
  }
}
