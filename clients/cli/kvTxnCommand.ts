import type { Command } from 'commander';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { headerJson, responseOpJson, responseOpLines } from './kvOutput';
import { UsageError } from './reportError';
import { parseCompare, parseTxnOp, parseTxnScript, type TxnText } from './txnSyntax';

// `concord kv txn`: compare-and-set and friends, in one atomic step. The syntax is in
// txnSyntax.ts; the transaction comes from --if/--then/--else, or from stdin when no flag is
// given (etcd's format), so a long transaction can live in a file: `concord kv txn < cas.txt`.

interface TxnOptions extends ClientCliOptions {
  if?: TxnText['compare'];
  then?: TxnText['success'];
  else?: TxnText['failure'];
}

const collect =
  <T>(parse: (text: string) => T) =>
  (text: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(text)];

const examples = `
Compares: target(key) op operand; targets value, version, create, mod, lease; ops = != > <
Operations: put <key> <value> [--lease <id>] | get <key> [--prefix] [--keys-only] | del <key> [--prefix]
Keys and values are words or JSON strings ("two words").

Examples:
  concord kv txn --if 'value(cfg/x) = "v1"' --then 'put cfg/x v2' --else 'get cfg/x'
  concord kv txn --if 'version(names/alice) = 0' --then 'put names/alice n1'     # claim once
  printf 'mod(k) < 10\\n\\nput k new\\n\\nget k\\n' | concord kv txn           # stdin: compares, blank, success, blank, failure`;

export function registerKvTxnCommand(kv: Command, io: Io): void {
  addClientOptions(kv.command('txn').description('if every compare holds, run the --then operations, else the --else ones (atomically)'))
    .option('--if <compare>', 'a compare, e.g. \'value(k) = "v1"\' (repeatable; all must hold)', collect(parseCompare))
    .option('--then <op>', 'an operation run when the compares hold (repeatable)', collect(parseTxnOp))
    .option('--else <op>', 'an operation run when they do not (repeatable)', collect(parseTxnOp))
    .addHelpText('after', examples)
    .action(async (options: TxnOptions) => {
      const fromFlags = options.if !== undefined || options.then !== undefined || options.else !== undefined;
      const txn: TxnText = fromFlags
        ? { compare: options.if ?? [], success: options.then ?? [], failure: options.else ?? [] }
        : await txnFromStdin(io);
      if (txn.compare.length + txn.success.length + txn.failure.length === 0) {
        throw new UsageError('an empty transaction: give --if/--then/--else, or the transaction on stdin');
      }
      await withClient(options, async (client) => {
        const response = await client.kvTxn(txn);
        if (options.json) {
          io.out(JSON.stringify({ succeeded: response.succeeded, ...headerJson(response.header), responses: response.responses.map(responseOpJson) }));
          return;
        }
        io.out(`${response.succeeded ? 'SUCCESS' : 'FAILURE'}  revision=${response.header?.revision ?? 0n}`);
        for (const op of response.responses) for (const line of responseOpLines(op)) io.out(line);
      });
    });
}

async function txnFromStdin(io: Io): Promise<TxnText> {
  if (process.stdin.isTTY) io.err('reading the transaction: compares, a blank line, success operations, a blank line, failure operations; Ctrl-D ends');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  try {
    return parseTxnScript(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    // Outside commander's parsing, so its usage error would not be printed: say it here.
    throw new UsageError(`stdin: ${(error as Error).message}`);
  }
}
