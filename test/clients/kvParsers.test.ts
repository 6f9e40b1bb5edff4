// Proves the argument parsers of the kv, lease and counter commands: durations (TTLs such as
// 10s and 500ms), int64 deltas and bounds kept as bigints, revisions, lease ids, the prefix
// range end, and that `counter add k -- -30 --floor 0` still parses its options.
import { InvalidArgumentError } from 'commander';
import { prefixEnd } from '../../clients/client';
import { formatMs, parseDurationMs, parseInt64, parseLeaseId, parseRevision, parseTtl } from '../../clients/cli/kvParsers';
import { normalizeArgv } from '../../clients/cli/main';

test.each([
  ['10s', 10_000],
  ['500ms', 500],
  ['1.5s', 1500],
  ['2m', 120_000],
  ['1h', 3_600_000],
  ['750', 750],
  [' 3 s ', 3000],
  ['0', 0],
])('parseDurationMs(%j) = %d', (text, ms) => {
  expect(parseDurationMs(text)).toBe(ms);
});

test.each(['', 's', '-1s', '10 sec', '1.0005s', '0.5ms', '1e3'])('parseDurationMs rejects %j', (text) => {
  expect(() => parseDurationMs(text)).toThrow(InvalidArgumentError);
});

test('a TTL is a positive duration; formatMs prints it back', () => {
  expect(parseTtl('10s')).toBe(10_000);
  expect(() => parseTtl('0s')).toThrow(/longer than 0/);
  expect([formatMs(10_000), formatMs(1500n), formatMs(999), formatMs(1234)]).toEqual(['10s', '1.5s', '999ms', '1234ms']);
});

test('int64 values stay exact bigints; out-of-range and non-integers are usage errors', () => {
  expect(parseInt64('-30')).toBe(-30n);
  expect(parseInt64('+7')).toBe(7n);
  expect(parseInt64('9223372036854775807')).toBe(2n ** 63n - 1n);
  expect(() => parseInt64('9223372036854775808')).toThrow(/does not fit in 64 bits/);
  expect(() => parseInt64('1.5')).toThrow(InvalidArgumentError);
  expect(parseRevision('0')).toBe(0n);
  expect(() => parseRevision('-1')).toThrow(/not negative/);
});

test('lease ids: decimal as printed, or 0x hex; positive', () => {
  expect(parseLeaseId('7587')).toBe(7587n);
  expect(parseLeaseId('0x1F')).toBe(31n);
  expect(() => parseLeaseId('0')).toThrow(/positive/);
  expect(() => parseLeaseId('abc')).toThrow(InvalidArgumentError);
});

test.each([
  ['app/', 'app0'],
  ['a', 'b'],
  ['a\uffff', 'b'],
  ['\uffff', '\u0000'],
  ['', '\u0000'],
  ['caf\u00e9', 'caf\u00ea'],
])('prefixEnd(%j) = %j', (prefix, end) => {
  expect(prefixEnd(prefix)).toBe(end);
});

test('prefixEnd refuses a prefix whose end would hold a lone surrogate, anywhere in it', () => {
  expect(prefixEnd('x\ud83d\ude00')).toBe('x\ud83d\ude01'); // U+1F600 -> U+1F601
  expect(() => prefixEnd('x\ud83d')).toThrow(RangeError); // a lone high half at the end
  expect(() => prefixEnd('x\ud83d\udfff')).toThrow(RangeError); // U+1F7FF: its low half becomes U+E000
  expect(() => prefixEnd('x\udbff\udfff')).toThrow(RangeError); // U+10FFFF
});

test('a -- before a negative number is dropped so later options still parse; other -- stay', () => {
  const argv = ['node', 'concord', 'counter', 'add', 'wallet/alice', '--', '-30', '--floor', '0'];
  expect(normalizeArgv(argv)).toEqual(['node', 'concord', 'counter', 'add', 'wallet/alice', '-30', '--floor', '0']);
  expect(normalizeArgv(['node', 'concord', 'kv', 'put', 'k', '--', '--odd'])).toEqual(['node', 'concord', 'kv', 'put', 'k', '--', '--odd']);
});
