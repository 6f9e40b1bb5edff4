import { InvalidArgumentError } from 'commander';
import { isAck, ackNames, type Ack } from '../client/ackLevel';
import { parsePath } from '../client/parsePath';

// Pure parsers for command-line arguments. They throw commander's InvalidArgumentError, which
// commander reports as a usage error (exit code 2) naming the argument.

export const defaultEndpoints = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];

/** `host:port,host:port` (IPv6 as `[::1]:7001`); duplicates are dropped, order is kept. */
export function parseEndpoints(text: string): string[] {
  const endpoints = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (endpoints.length === 0) throw new InvalidArgumentError('expected host:port[,host:port...]');
  for (const endpoint of endpoints) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d+)$/.exec(endpoint);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new InvalidArgumentError(`not a host:port endpoint: ${endpoint}`);
  }
  return [...new Set(endpoints)];
}

/** The endpoints to use when --endpoints is not given: CONCORD_ENDPOINTS, else the local trio. */
export function endpointsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const fromEnv = env.CONCORD_ENDPOINTS?.trim();
  return fromEnv ? parseEndpoints(fromEnv) : [...defaultEndpoints];
}

export function parseAck(text: string): Ack {
  const lower = text.toLowerCase();
  if (!isAck(lower)) throw new InvalidArgumentError(`expected one of ${ackNames.join(', ')}`);
  return lower;
}

/** A dotted path (`order.items`) with at least `minSegments` segments. */
export function parseDocPath(text: string, minSegments = 1): string[] {
  let segments: string[];
  try {
    segments = parsePath(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  if (segments.length < minSegments) {
    throw new InvalidArgumentError(`expected at least ${minSegments} dot-separated segments (type.key), got ${JSON.stringify(text)}`);
  }
  return segments;
}

/** A map key path: the top-level map and the key, at least (`greeting.text`). */
export function parseKeyPath(text: string): string[] {
  return parseDocPath(text, 2);
}

export function parseJsonValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidArgumentError(`not JSON: ${text} (quote strings, e.g. '"hi"')`);
  }
}

/** A non-negative integer that fits the wire's uint32 (indexes, lengths, counts). */
export function parseCount(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 0xffffffff) throw new InvalidArgumentError(`expected a non-negative integer, got ${text}`);
  return value;
}

export function parsePositiveInt(text: string): number {
  const value = parseCount(text);
  if (value === 0) throw new InvalidArgumentError('expected a positive integer');
  return value;
}

/** A port, where 0 means "pick free ports". */
export function parsePort(text: string): number {
  const value = parseCount(text);
  if (value > 65535) throw new InvalidArgumentError(`not a port: ${text}`);
  return value;
}

export function parseDelta(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new InvalidArgumentError(`expected a finite number, got ${text}`);
  return value;
}

/** A version token as printed by the CLI: hex, even length. */
export function parseHex(text: string): Buffer {
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new InvalidArgumentError('expected an even number of hex digits');
  return Buffer.from(text, 'hex');
}

/** The longest link delay a node accepts (services/rpc/adminService.ts), checked here so a typo fails before any node changes. */
export const linkDelayMsMax = 60_000;

/** A link delay: `200ms`, `1.5s`, or a plain number of ms; `0` clears the delay. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`expected a duration such as 200ms, 1.5s or 200 (ms), got ${JSON.stringify(text)}`);
  const exact = Number(match[1]) * (match[2] === 's' ? 1000 : 1);
  // Binary floating point makes 1.1 * 1000 = 1100.0000000000002: round away only that noise.
  const ms = Math.round(exact);
  // The wire carries whole milliseconds; silently rounding 0.5ms would hide a mistake.
  if (Math.abs(exact - ms) > 1e-6) throw new InvalidArgumentError(`a delay is a whole number of milliseconds, got ${text}`);
  if (ms > linkDelayMsMax) throw new InvalidArgumentError(`a delay is at most ${linkDelayMsMax / 1000}s, got ${text}`);
  return ms;
}
