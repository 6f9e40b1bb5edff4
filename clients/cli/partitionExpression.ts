import { UsageError } from './reportError';

// The argument of `concord partition`, as words from the shell or as one quoted string:
//   n1 '|' n2 n3        groups separated by `|`: every link between two groups is cut
//   a b '|' c '|' d     (any number of groups; links inside a group stay up)
//   n1 -/- n2           one link, between exactly two nodes
// `|` must be quoted for the shell; `"n1 | n2 n3"` and `n1|n2` work too.

export type PartitionExpression =
  | { kind: 'groups'; groups: string[][] }
  | { kind: 'link'; a: string; b: string };

const linkSeparator = '-/-';
const groupSeparator = '|';
const nodeIdPattern = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

export function parsePartitionExpression(words: readonly string[]): PartitionExpression {
  const tokens = words
    .join(' ')
    .replaceAll(linkSeparator, ` ${linkSeparator} `)
    .replaceAll(groupSeparator, ` ${groupSeparator} `)
    .split(/\s+/)
    .filter((token) => token !== '');
  for (const token of tokens) {
    if (token === linkSeparator || token === groupSeparator) continue;
    // The partition command lets unknown options through (so `-/-` is not one); report them here.
    if (token.startsWith('-')) throw new UsageError(`unknown option '${token}'`);
    if (!nodeIdPattern.test(token)) throw new UsageError(`not a node id: ${JSON.stringify(token)}`);
  }
  const hasLink = tokens.includes(linkSeparator);
  const hasGroups = tokens.includes(groupSeparator);
  if (hasLink && hasGroups) throw new UsageError(`use either '|' (groups) or '${linkSeparator}' (one link), not both`);
  if (hasLink) return parseLink(tokens);
  if (hasGroups) return parseGroups(tokens);
  throw new UsageError(`expected groups separated by '|' (n1 '|' n2 n3) or one link (n1 ${linkSeparator} n2), got ${JSON.stringify(words.join(' '))}`);
}

function parseLink(tokens: string[]): PartitionExpression {
  const [a, separator, b, ...rest] = tokens;
  if (separator !== linkSeparator || a === undefined || b === undefined || b === linkSeparator || rest.length > 0) {
    throw new UsageError(`'${linkSeparator}' cuts one link: exactly one node on each side (n1 ${linkSeparator} n2)`);
  }
  if (a === b) throw new UsageError(`a node has no link to itself: ${a} ${linkSeparator} ${b}`);
  return { kind: 'link', a, b };
}

function parseGroups(tokens: string[]): PartitionExpression {
  const groups: string[][] = [[]];
  for (const token of tokens) {
    if (token === groupSeparator) groups.push([]);
    else groups[groups.length - 1]!.push(token);
  }
  if (groups.some((group) => group.length === 0)) throw new UsageError(`every side of '|' needs at least one node`);
  const seen = new Set<string>();
  for (const id of groups.flat()) {
    if (seen.has(id)) throw new UsageError(`${id} is named twice; a node is on one side only`);
    seen.add(id);
  }
  return { kind: 'groups', groups };
}

/** The links the expression cuts, as pairs of node ids (each link once). */
export function linksToCut(expression: PartitionExpression): [string, string][] {
  if (expression.kind === 'link') return [[expression.a, expression.b]];
  const pairs: [string, string][] = [];
  expression.groups.forEach((group, i) => {
    for (const other of expression.groups.slice(i + 1)) for (const a of group) for (const b of other) pairs.push([a, b]);
  });
  return pairs;
}

/** `{n1} | {n2 n3}` or `n1 -/- n2`, for messages. */
export function formatPartitionExpression(expression: PartitionExpression): string {
  if (expression.kind === 'link') return `${expression.a} ${linkSeparator} ${expression.b}`;
  return expression.groups.map((group) => `{${group.join(' ')}}`).join(' | ');
}
