// Proves the CLI's argument parsers: dotted paths (with escapes), ack levels, endpoint lists
// (flag and environment), JSON values, counts, deltas and hex version tokens; bad input is a
// commander InvalidArgumentError, which the CLI turns into a usage error (exit code 2).
import { InvalidArgumentError } from 'commander';
import { formatPath, parsePath } from '../../clients/client/parsePath';
import {
  defaultEndpoints,
  endpointsFromEnv,
  parseAck,
  parseCount,
  parseDelta,
  parseDocPath,
  parseEndpoints,
  parseHex,
  parseJsonValue,
  parseKeyPath,
} from '../../clients/cli/cliParsers';

test.each([
  ['order.items', ['order', 'items']],
  ['notes', ['notes']],
  ['order.items.0.name', ['order', 'items', '0', 'name']],
  ['a\\.b.c', ['a.b', 'c']],
  ['back\\\\slash.x', ['back\\slash', 'x']],
])('parsePath(%j)', (text, segments) => {
  expect(parsePath(text)).toEqual(segments);
  expect(parsePath(formatPath(segments))).toEqual(segments);
});

test.each(['', 'a..b', '.a', 'a.', 'a\\'])('parsePath rejects %j', (text) => {
  expect(() => parsePath(text)).toThrow(RangeError);
  expect(() => parseDocPath(text)).toThrow(InvalidArgumentError);
});

test('a map key path needs the map and the key', () => {
  expect(parseKeyPath('greeting.text')).toEqual(['greeting', 'text']);
  expect(() => parseKeyPath('greeting')).toThrow(/at least 2/);
});

test('ack levels by name, any case', () => {
  expect(['local', 'QUORUM', 'All'].map(parseAck)).toEqual(['local', 'quorum', 'all']);
  expect(() => parseAck('majority')).toThrow(InvalidArgumentError);
});

test('endpoint lists', () => {
  expect(parseEndpoints('127.0.0.1:7001, localhost:7002,,[::1]:7003,127.0.0.1:7001')).toEqual([
    '127.0.0.1:7001',
    'localhost:7002',
    '[::1]:7003',
  ]);
  for (const bad of ['', ',', '127.0.0.1', 'host:0', 'host:70000', 'host:port', 'a b:1']) {
    expect(() => parseEndpoints(bad)).toThrow(InvalidArgumentError);
  }
  expect(endpointsFromEnv({})).toEqual(defaultEndpoints);
  expect(endpointsFromEnv({ CONCORD_ENDPOINTS: ' 10.0.0.1:1,10.0.0.2:2 ' })).toEqual(['10.0.0.1:1', '10.0.0.2:2']);
});

test('JSON values must be JSON', () => {
  expect(['"hi"', '1.5', 'null', '{"a":[1]}'].map(parseJsonValue)).toEqual(['hi', 1.5, null, { a: [1] }]);
  expect(() => parseJsonValue('hi')).toThrow(/quote strings/);
});

test('counts, deltas and hex tokens', () => {
  expect(parseCount('0')).toBe(0);
  for (const bad of ['-1', '1.5', '', 'x', '4294967296']) expect(() => parseCount(bad)).toThrow(InvalidArgumentError);
  expect(['-2', '0.5', '1e3'].map(parseDelta)).toEqual([-2, 0.5, 1000]);
  for (const bad of ['', 'x', 'Infinity', 'NaN']) expect(() => parseDelta(bad)).toThrow(InvalidArgumentError);
  expect(parseHex('00ff10')).toEqual(Buffer.from([0, 255, 16]));
  expect(parseHex('')).toEqual(Buffer.alloc(0));
  for (const bad of ['0', 'zz', '0x00']) expect(() => parseHex(bad)).toThrow(InvalidArgumentError);
});
