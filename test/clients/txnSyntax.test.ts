// Proves the text syntax of `concord kv txn`: compares on value/version/create/mod/lease with
// = != > <, put/get/del operations with their flags, quoted keys and values, etcd's stdin
// format (compares, blank line, success, blank line, failure), and clear errors for bad input.
import { InvalidArgumentError } from 'commander';
import { Compare_CompareResult as R, Compare_CompareTarget as T } from '../../proto/gen/concord/v1/kv';
import { parseCompare, parseTxnOp, parseTxnScript, splitWords } from '../../clients/cli/txnSyntax';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

test.each([
  ['value(cfg/x) = "v1"', { key: 'cfg/x', target: T.VALUE, result: R.EQUAL, targetUnion: { $case: 'value', value: bytes('v1') } }],
  ['value(cfg/x)==v1', { key: 'cfg/x', target: T.VALUE, result: R.EQUAL, targetUnion: { $case: 'value', value: bytes('v1') } }],
  ['value("a key") != ""', { key: 'a key', target: T.VALUE, result: R.NOT_EQUAL, targetUnion: { $case: 'value', value: bytes('') } }],
  ['version(names/alice) = 0', { key: 'names/alice', target: T.VERSION, result: R.EQUAL, targetUnion: { $case: 'version', value: 0n } }],
  ['create( k ) > 5', { key: 'k', target: T.CREATE, result: R.GREATER, targetUnion: { $case: 'createRevision', value: 5n } }],
  ['mod(k) < 42', { key: 'k', target: T.MOD, result: R.LESS, targetUnion: { $case: 'modRevision', value: 42n } }],
  ['lease(locks/a) != 0', { key: 'locks/a', target: T.LEASE, result: R.NOT_EQUAL, targetUnion: { $case: 'lease', value: 0n } }],
  ['value(k) = "two words"', { key: 'k', target: T.VALUE, result: R.EQUAL, targetUnion: { $case: 'value', value: bytes('two words') } }],
])('parseCompare(%j)', (text, compare) => {
  expect(parseCompare(text)).toEqual(compare);
});

test.each([
  ['valu(k) = 1', /unknown compare target valu/],
  ['version(k) = x', /version compares with a non-negative integer/],
  ['mod(k) >= 3', /unknown operator >=: expected = != > </],
  ['value(k) =', /expected one operand/],
  ['value(k) = a b', /expected one operand/],
  ['value k = 1', /expected target\(key\) op operand/],
  ['value(k) = "open', /unterminated quote/],
])('parseCompare rejects %j', (text, message) => {
  expect(() => parseCompare(text)).toThrow(InvalidArgumentError);
  expect(() => parseCompare(text)).toThrow(message);
});

test('operations: put with a lease in either form, get and del with their flags', () => {
  expect(parseTxnOp('put k v2')).toEqual({ request: { $case: 'requestPut', value: { key: 'k', value: bytes('v2'), lease: 0n, prevKv: false } } });
  expect(parseTxnOp('put k v --lease 7')).toMatchObject({ request: { value: { lease: 7n } } });
  expect(parseTxnOp('put --lease=0x1f "a key" "a value"')).toMatchObject({ request: { value: { key: 'a key', value: bytes('a value'), lease: 31n } } });
  // A quoted word is never a flag, so values may look like one.
  expect(parseTxnOp('put k "--lease"')).toMatchObject({ request: { value: { value: bytes('--lease'), lease: 0n } } });
  expect(parseTxnOp('get k')).toMatchObject({ request: { $case: 'requestRange', value: { key: 'k', rangeEnd: '', keysOnly: false } } });
  expect(parseTxnOp('get app/ --prefix --keys-only')).toMatchObject({ request: { value: { key: 'app/', rangeEnd: 'app0', keysOnly: true } } });
  expect(parseTxnOp('del app/ --prefix')).toEqual({ request: { $case: 'requestDeleteRange', value: { key: 'app/', rangeEnd: 'app0', prevKv: false } } });
});

test.each([
  ['put k', /expected put <key> <value>/],
  ['put k v --lease', /--lease needs a value/],
  ['put k v --lease abc', /a lease id|expected an integer/],
  ['get k --rev 3', /unknown flag --rev/],
  ['del a b', /expected del <key>/],
  ['constructor k', /expected put, get or del/],
  ['"put" k v', /expected put, get or del/],
  ['', /expected put, get or del/],
])('parseTxnOp rejects %j', (text, message) => {
  expect(() => parseTxnOp(text)).toThrow(message);
});

test('splitWords keeps JSON escapes and marks quoted words', () => {
  expect(splitWords(' put  "a\\tb" c ')).toEqual([
    { text: 'put', quoted: false },
    { text: 'a\tb', quoted: true },
    { text: 'c', quoted: false },
  ]);
});

test('stdin script: compares, blank line, success, blank line, failure; comments ignored', () => {
  const txn = parseTxnScript('# claim the name\nversion(names/bob) = 0\nvalue(cfg) != "frozen"\n\nput names/bob n1\n\nget names/bob\n');
  expect(txn.compare.map((c) => c.target)).toEqual([T.VERSION, T.VALUE]);
  expect(txn.success.map((op) => op.request?.$case)).toEqual(['requestPut']);
  expect(txn.failure.map((op) => op.request?.$case)).toEqual(['requestRange']);
  // Empty sections are blank lines: no compares, nothing on success, a delete on failure.
  const onlyFailure = parseTxnScript('\n\ndel k\n');
  expect([onlyFailure.compare.length, onlyFailure.success.length, onlyFailure.failure.length]).toEqual([0, 0, 1]);
});

test('stdin script errors name the line', () => {
  expect(() => parseTxnScript('version(k) = 0\n\nput k\n')).toThrow(/^line 3: expected put <key> <value>/);
  expect(() => parseTxnScript('version(k) = 0\n\nput k v\n\nget k\n\nget k\n')).toThrow(/^line 6: more than three sections/);
  expect(() => parseTxnScript('put k v\n')).toThrow(/^line 1: expected target\(key\) op operand/);
});
