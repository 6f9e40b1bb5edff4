import type { Command } from 'commander';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { headerJson, valueText } from './kvOutput';
import { parseInt64 } from './kvParsers';
import { printable } from './printable';

// `concord counter add|get`: bounded counters, decided by the voters' majority. A change that
// would cross --floor or --ceiling is refused (FAILED_PRECONDITION), never clamped, so
// `concord counter add wallet/alice -- -30 --floor 0` never overdraws. A counter is a KV key
// holding a decimal integer; a key that does not exist counts as 0.

interface AddOptions extends ClientCliOptions {
  floor?: bigint;
  ceiling?: bigint;
}

export function registerCounterCommands(program: Command, io: Io): void {
  const counter = program.command('counter').description('bounded counters (authoritative): add refuses to cross a floor or ceiling');

  addClientOptions(counter.command('add').description('add a delta (negative after --: counter add k -- -30 --floor 0)'))
    .argument('<key>', 'the counter key')
    .argument('<delta>', 'an integer, may be negative', parseInt64)
    .option('--floor <n>', 'refuse a change that would take the counter below this', parseInt64)
    .option('--ceiling <n>', 'refuse a change that would take the counter above this', parseInt64)
    .action((key: string, delta: bigint, options: AddOptions) =>
      withClient(options, async (client) => {
        const r = await client.counterAdd(key, delta, { floor: options.floor, ceiling: options.ceiling });
        if (options.json) io.out(JSON.stringify({ key, value: printable(r.value), ...headerJson(r.header) }));
        else io.out(`ok  ${key}=${r.value}  revision=${r.header?.revision ?? 0n}`);
      }),
    );

  addClientOptions(counter.command('get').description('read a counter (linearizable unless --serializable)'))
    .argument('<key>', 'the counter key')
    .option('--serializable', "the answering node's state: may be stale, works without a quorum")
    .action((key: string, options: ClientCliOptions & { serializable?: boolean }) =>
      withClient(options, async (client) => {
        const r = await client.kvRange(key, { serializable: options.serializable });
        const kv = r.kvs[0];
        const text = kv === undefined ? '0' : valueText(kv.value);
        if (text === undefined || !/^-?\d+$/.test(text)) throw new Error(`key ${key} does not hold an integer counter`);
        if (options.json) io.out(JSON.stringify({ key, value: printable(BigInt(text)), exists: kv !== undefined, ...headerJson(r.header) }));
        else io.out(text);
      }),
    );
}
