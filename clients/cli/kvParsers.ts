import { InvalidArgumentError } from 'commander';

// Pure parsers for the arguments of the kv, lease and counter commands. int64 fields stay
// bigints end to end, so large revisions and lease ids are never rounded. Bad input throws
// commander's InvalidArgumentError: a usage error (exit code 2) naming the argument.

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A signed 64-bit integer: a counter delta or bound (`-30`). */
export function parseInt64(text: string): bigint {
  if (!/^[-+]?\d+$/.test(text.trim())) throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(text)}`);
  const value = BigInt(text.trim());
  if (value < int64Min || value > int64Max) throw new InvalidArgumentError(`${text} does not fit in 64 bits`);
  return value;
}

/** A revision: a non-negative integer. */
export function parseRevision(text: string): bigint {
  const value = parseInt64(text);
  if (value < 0n) throw new InvalidArgumentError(`a revision is not negative, got ${text}`);
  return value;
}

/** A lease id as printed by `concord lease grant` (decimal), or hex with 0x. */
export function parseLeaseId(text: string): bigint {
  const hex = /^0x([0-9a-fA-F]{1,16})$/.exec(text.trim());
  const value = hex ? BigInt(`0x${hex[1]}`) : parseInt64(text);
  if (value <= 0n || value > int64Max) throw new InvalidArgumentError(`a lease id is a positive integer, got ${text}`);
  return value;
}

/** A duration in whole milliseconds: `10s`, `500ms`, `1.5s`, `2m`, `1h`, or a plain number of ms. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`expected a duration such as 10s, 500ms, 2m or 1500 (ms), got ${JSON.stringify(text)}`);
  const exact = Number(match[1]) * (unitMs[match[2] ?? 'ms'] ?? 1);
  // Binary floating point makes 1.1 * 1000 = 1100.0000000000002: round away only that noise.
  const ms = Math.round(exact);
  if (Math.abs(exact - ms) > 1e-6) throw new InvalidArgumentError(`a duration is a whole number of milliseconds, got ${text}`);
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError(`duration too long: ${text}`);
  return ms;
}

/** A lease TTL: a positive duration (the node enforces its own bounds, 1s..24h). */
export function parseTtl(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === 0) throw new InvalidArgumentError('a TTL must be longer than 0');
  return ms;
}

/** Milliseconds as the CLI prints them: `10s`, `1.5s`, `500ms`. */
export function formatMs(ms: number | bigint): string {
  const n = Number(ms);
  return n >= 1000 && n % 100 === 0 ? `${n / 1000}s` : `${n}ms`;
}
