import type { Command } from 'commander';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { parsePositiveInt } from './cliParsers';
import { registerKvTxnCommand } from './kvTxnCommand';
import { registerKvWatchCommand } from './kvWatchCommand';
import { parseLeaseId, parseRevision } from './kvParsers';
import { headerJson, kvLines, rangeJson } from './kvOutput';
import { printable } from './printable';

// `concord kv get|put|del|compact|txn|watch`: the authoritative, etcd-like key-value store.
// Any node serves them (followers forward writes to the leader); a node that cannot reach a
// majority of voters answers UNAVAILABLE at once, and the error names the voters it reaches.

interface GetOptions extends ClientCliOptions {
  prefix?: boolean;
  rev?: bigint;
  serializable?: boolean;
  keysOnly?: boolean;
  limit?: number;
}

export function registerKvCommands(program: Command, io: Io): void {
  const kv = program.command('kv').description('authoritative key-value store (etcd-like): get, put, del, txn, watch, compact');

  addClientOptions(kv.command('get').description('read a key, or every key with a prefix (linearizable unless --serializable)'))
    .argument('<key>', 'the key (with --prefix: the prefix; "" for every key)')
    .option('--prefix', 'every key starting with <key>')
    .option('--rev <n>', 'read as of this revision', parseRevision)
    .option('--serializable', "the answering node's state: may be stale, works without a quorum")
    .option('--keys-only', 'keys without values')
    .option('--limit <n>', 'at most this many keys', parsePositiveInt)
    .action((key: string, options: GetOptions) =>
      withClient(options, async (client) => {
        const { prefix, rev: revision, serializable, keysOnly, limit } = options;
        const response = await client.kvRange(key, { prefix, revision, serializable, keysOnly, limit });
        if (options.json) return io.out(JSON.stringify(rangeJson(response, keysOnly)));
        for (const line of kvLines(response.kvs, keysOnly)) io.out(line);
        io.out(`# revision=${response.header?.revision ?? 0n}  count=${response.count}${response.more ? '  more' : ''}`);
      }),
    );

  addClientOptions(kv.command('put').description('set a key to a value (a value starting with - goes after --)'))
    .argument('<key>', 'the key')
    .argument('<value>', 'the value, as text')
    .option('--lease <id>', 'attach the key to a lease: it is deleted when the lease ends', parseLeaseId)
    .action((key: string, value: string, options: ClientCliOptions & { lease?: bigint }) =>
      withClient(options, async (client) => {
        const { header } = await client.kvPut(key, value, { lease: options.lease });
        io.out(options.json ? JSON.stringify(headerJson(header)) : `ok  revision=${header?.revision ?? 0n}`);
      }),
    );

  addClientOptions(kv.command('del').description('delete a key, or every key with a prefix'))
    .argument('<key>', 'the key (with --prefix: the prefix)')
    .option('--prefix', 'every key starting with <key>')
    .action((key: string, options: ClientCliOptions & { prefix?: boolean }) =>
      withClient(options, async (client) => {
        const { header, deleted } = await client.kvDelete(key, { prefix: options.prefix });
        if (options.json) io.out(JSON.stringify({ ...headerJson(header), deleted: printable(deleted) }));
        else io.out(`ok  deleted=${deleted}  revision=${header?.revision ?? 0n}`);
      }),
    );

  addClientOptions(kv.command('compact').description('drop the history before a revision (reads and watches before it then fail)'))
    .argument('<rev>', 'the revision to compact up to', parseRevision)
    .action((revision: bigint, options: ClientCliOptions) =>
      withClient(options, async (client) => {
        const { header } = await client.kvCompact(revision);
        io.out(options.json ? JSON.stringify({ ...headerJson(header), compacted: printable(revision) }) : `ok  compacted up to revision ${revision}`);
      }),
    );

  registerKvTxnCommand(kv, io);
  registerKvWatchCommand(kv, io);
}
