import { InvalidArgumentError } from 'commander';
import type { Compare, RequestOp } from '../../proto/gen/concord/v1/kv';
import { compareOperators, compareTargets, kvOps, type CompareOperator, type CompareTargetName } from '../client/kvOps';
import { parseLeaseId } from './kvParsers';

// The text form of a KV transaction, for `concord kv txn`. One compare or operation per flag
// or line; keys and values are bare words or JSON strings ("with spaces", "tab\t"):
//
//   compare:   value(cfg/x) = "v1"      version(k) = 0      mod(k) < 42      lease(k) != 0
//              targets value | version | create | mod | lease; operators = (or ==) != > <
//   operation: put <key> <value> [--lease <id>]     get <key> [--prefix] [--keys-only]
//              del <key> [--prefix]
//
// Flags: --if <compare> --then <op> --else <op>, each repeatable. On stdin (etcd's format):
// compares, a blank line, the success operations, a blank line, the failure operations.
// Lines starting with # are comments.

export interface TxnText {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

interface Word {
  text: string;
  /** Quoted words are never flags, so a value may be "--lease". */
  quoted: boolean;
}

const word = /\s*("(?:[^"\\]|\\.)*"|[^\s"]+)/y;
const compareForm = /^\s*([a-z]+)\s*\(\s*("(?:[^"\\]|\\.)*"|[^\s()"]+)\s*\)\s*([=!<>]+)\s*(.*?)\s*$/;

/** Splits shell-like words: runs of non-blanks, or JSON strings. */
export function splitWords(text: string): Word[] {
  const words: Word[] = [];
  word.lastIndex = 0;
  while (word.lastIndex < text.length) {
    const start = word.lastIndex;
    const match = word.exec(text);
    if (match === null) {
      if (text.slice(start).trim() === '') break;
      throw new InvalidArgumentError(`unterminated quote in ${JSON.stringify(text)}`);
    }
    words.push({ text: unquote(match[1] ?? ''), quoted: match[1]?.startsWith('"') ?? false });
  }
  return words;
}

function unquote(token: string): string {
  if (!token.startsWith('"')) return token;
  try {
    return JSON.parse(token) as string;
  } catch {
    throw new InvalidArgumentError(`bad quoted string ${token} (JSON escapes: \\" \\\\ \\n \\t \\u0000)`);
  }
}

export function parseCompare(text: string): Compare {
  const match = compareForm.exec(text);
  if (match === null) throw new InvalidArgumentError(`expected target(key) op operand, e.g. value(k) = "v1" or version(k) > 0; got ${JSON.stringify(text)}`);
  const [, target = '', keyToken = '', op = '', operandText = ''] = match;
  if (!(compareTargets as readonly string[]).includes(target)) {
    throw new InvalidArgumentError(`unknown compare target ${target}: expected ${compareTargets.join(', ')}`);
  }
  const operator = (op === '==' ? '=' : op) as CompareOperator;
  if (!compareOperators.includes(operator)) throw new InvalidArgumentError(`unknown operator ${op}: expected ${compareOperators.join(' ')}`);
  const operand = splitWords(operandText);
  if (operand.length !== 1) throw new InvalidArgumentError(`expected one operand after ${op}, got ${JSON.stringify(operandText)}`);
  const key = unquote(keyToken);
  const value = operand[0]!.text;
  if (target === 'value') return kvOps.compare('value', key, operator, value);
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${target} compares with a non-negative integer, got ${JSON.stringify(value)}`);
  return kvOps.compare(target as CompareTargetName, key, operator, BigInt(value));
}

export function parseTxnOp(text: string): RequestOp {
  const [verb, ...rest] = splitWords(text);
  const usage = verb !== undefined && Object.hasOwn(usages, verb.text) ? usages[verb.text] : undefined;
  if (verb === undefined || verb.quoted || usage === undefined) throw new InvalidArgumentError(`expected put, get or del, got ${JSON.stringify(text)}`);
  const { args, flags } = readFlags(rest, usage.flags, text);
  if (args.length !== usage.args) throw new InvalidArgumentError(`expected ${usage.text}, got ${JSON.stringify(text)}`);
  const [key = '', value = ''] = args;
  const lease = flags.get('--lease');
  if (verb.text === 'put') return kvOps.put(key, value, { lease: lease === undefined ? undefined : parseLeaseId(lease) });
  if (verb.text === 'get') return kvOps.get(key, { prefix: flags.has('--prefix'), keysOnly: flags.has('--keys-only') });
  return kvOps.del(key, { prefix: flags.has('--prefix') });
}

const usages: Record<string, { args: number; flags: Record<string, 'value' | 'switch'>; text: string }> = {
  put: { args: 2, flags: { '--lease': 'value' }, text: 'put <key> <value> [--lease <id>]' },
  get: { args: 1, flags: { '--prefix': 'switch', '--keys-only': 'switch' }, text: 'get <key> [--prefix] [--keys-only]' },
  del: { args: 1, flags: { '--prefix': 'switch' }, text: 'del <key> [--prefix]' },
};

/** Separates unquoted `--flag`, `--flag value` and `--flag=value` from the positional words. */
function readFlags(words: readonly Word[], known: Record<string, 'value' | 'switch'>, text: string): { args: string[]; flags: Map<string, string> } {
  const args: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.quoted || !w.text.startsWith('--')) {
      args.push(w.text);
      continue;
    }
    const [name = '', inline] = w.text.split(/=(.*)/s);
    const kind = known[name];
    if (kind === undefined) throw new InvalidArgumentError(`unknown flag ${name} in ${JSON.stringify(text)}`);
    if (kind === 'switch') flags.set(name, '');
    else if (inline !== undefined) flags.set(name, inline);
    else if (i + 1 < words.length) flags.set(name, words[++i]!.text);
    else throw new InvalidArgumentError(`${name} needs a value in ${JSON.stringify(text)}`);
  }
  return { args, flags };
}

/**
 * A transaction as etcd's `txn` reads it from stdin: compares, a blank line, success
 * operations, a blank line, failure operations. Errors name the line.
 */
export function parseTxnScript(script: string): TxnText {
  const txn: TxnText = { compare: [], success: [], failure: [] };
  let section = 0;
  const lines = script.replace(/\s+$/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim().startsWith('#')) return;
    if (line.trim() === '') {
      if (++section > 2) throw new InvalidArgumentError(`line ${i + 1}: more than three sections (compares, success, failure)`);
      return;
    }
    try {
      if (section === 0) txn.compare.push(parseCompare(line));
      else (section === 1 ? txn.success : txn.failure).push(parseTxnOp(line));
    } catch (error) {
      throw new InvalidArgumentError(`line ${i + 1}: ${(error as Error).message}`);
    }
  });
  return txn;
}
