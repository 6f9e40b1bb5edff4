// Proves the pure parsing behind `concord partition` and `concord delay`: partition expressions
// in every accepted shape (shell words, one quoted string, glued separators) with the links they
// cut, the usage errors for malformed ones, and link-delay durations with their units and bounds.
import { InvalidArgumentError } from 'commander';
import { linkDelayMsMax, parseDuration } from '../../clients/cli/cliParsers';
import { formatPartitionExpression, linksToCut, parsePartitionExpression } from '../../clients/cli/partitionExpression';
import { UsageError } from '../../clients/cli/reportError';

const split = { kind: 'groups', groups: [['n1'], ['n2', 'n3']] };

test.each([
  [['n1', '|', 'n2', 'n3']],
  [['n1 | n2 n3']],
  [['n1|n2', 'n3']],
  [['  n1', '|n2  n3 ']],
])('%j is n1 against n2 and n3', (words) => {
  expect(parsePartitionExpression(words)).toEqual(split);
});

test('groups cut every link between them and none inside them', () => {
  const expression = parsePartitionExpression(['a', 'b', '|', 'c']);
  expect(linksToCut(expression)).toEqual([['a', 'c'], ['b', 'c']]);
  expect(formatPartitionExpression(expression)).toBe('{a b} | {c}');
  // Three groups: every pair of groups is separated.
  expect(linksToCut(parsePartitionExpression(['a | b | c']))).toEqual([['a', 'b'], ['a', 'c'], ['b', 'c']]);
  expect(linksToCut(parsePartitionExpression(['n1', '|', 'n2', 'n3']))).toEqual([['n1', 'n2'], ['n1', 'n3']]);
});

test.each([[['n1', '-/-', 'n2']], [['n1 -/- n2']], [['n1-/-n2']]])('%j is the single link n1-n2', (words) => {
  const expression = parsePartitionExpression(words);
  expect(expression).toEqual({ kind: 'link', a: 'n1', b: 'n2' });
  expect(linksToCut(expression)).toEqual([['n1', 'n2']]);
  expect(formatPartitionExpression(expression)).toBe('n1 -/- n2');
});

test.each([
  [['n1', 'n2'], /expected groups/],
  [[], /expected groups/],
  [['n1', '|'], /every side/],
  [['|', 'n1'], /every side/],
  [['n1', '|', '|', 'n2'], /every side/],
  [['n1', '|', 'n1'], /named twice/],
  [['n1', 'n2', '|', 'n3', 'n1'], /named twice/],
  [['n1', '-/-', 'n2', '|', 'n3'], /not both/],
  [['n1', 'n2', '-/-', 'n3'], /exactly one node/],
  [['n1', '-/-'], /exactly one node/],
  [['n1', '-/-', 'n2', '-/-', 'n3'], /exactly one node/],
  [['n1', '-/-', 'n1'], /itself/],
  [['n1', '|', 'n2', '--jsno'], /unknown option '--jsno'/],
  [['n1', '|', 'n"2'], /not a node id/],
])('%j is a usage error', (words, message) => {
  expect(() => parsePartitionExpression(words)).toThrow(UsageError);
  expect(() => parsePartitionExpression(words)).toThrow(message);
});

test('durations: ms, s, plain numbers as ms, 0 clears', () => {
  expect(['200ms', '200', '1.5s', '2s', '0', '0ms', ' 75 ms ', '60s'].map(parseDuration)).toEqual([200, 200, 1500, 2000, 0, 0, 75, 60_000]);
  // Decimal seconds whose product is not exact in binary floating point are still whole ms.
  expect(['1.1s', '0.3s', '0.007s'].map(parseDuration)).toEqual([1100, 300, 7]);
});

test.each(['', 'ms', '-5ms', '200m', '1h', '0.5ms', '1.0005s', '61s', `${linkDelayMsMax + 1}`, 'fast'])('duration %j is rejected', (text) => {
  expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
});
