import type { Command } from 'commander';
import type { Operation, WriteResponse } from '../../proto/gen/concord/v1/documents';
import { ops } from '../client/ops';
import { addClientOptions, addWriteOptions, withClient, type ClientCliOptions, type Io, type WriteCliOptions } from './clientOptions';
import {
  parseCount,
  parseDelta,
  parseDocPath,
  parseHex,
  parseJsonValue,
  parseKeyPath,
  parsePositiveInt,
} from './cliParsers';
import { hex, parseDocumentJson, toJsonLine } from './printable';
import { watchCommand } from './watchCommand';

// Document commands: one typed write each (set, del, add, text and list edits), get, watch, ls.

/** Registers a write command whose arguments (after <doc>) build one operation. */
function writeCommand(program: Command, io: Io, spec: string, description: string, build: (...args: never[]) => Operation): Command {
  const command = addWriteOptions(program.command(spec).description(description));
  return command.action(async (documentId: string, ...rest: unknown[]) => {
    const options = rest[rest.length - 2] as WriteCliOptions;
    const operation = (build as (...args: unknown[]) => Operation)(...rest.slice(0, -2));
    await withClient(options, async (client) => {
      printWrite(io, options, await client.apply(documentId, [operation], { ack: options.ack }));
    });
  });
}

function printWrite(io: Io, options: ClientCliOptions, response: WriteResponse): void {
  if (options.json) io.out(toJsonLine(response));
  else io.out(`ok  node=${response.nodeId}  acked_by=${response.ackedBy}  version=${hex(response.version)}`);
}

export function registerDocumentCommands(program: Command, io: Io): void {
  writeCommand(program, io, 'set', 'set a map key to a JSON value', (path: string[], value: unknown) => ops.set(path, value))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the key, e.g. greeting.text', parseKeyPath)
    .argument('<json>', 'the value as JSON (quote strings: \'"hi"\')', parseJsonValue);
  writeCommand(program, io, 'del', 'delete a map key', (path: string[]) => ops.del(path))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the key', parseKeyPath);
  writeCommand(program, io, 'add', 'add to a counter (concurrent adds all count)', (path: string[], delta: number) => ops.counterAdd(path, delta))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the counter', parseDocPath)
    .argument('<delta>', 'a finite number, may be negative', parseDelta);
  writeCommand(program, io, 'text-insert', 'insert text at an index', (path: string[], index: number, text: string) => ops.textInsert(path, index, text))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the text', parseDocPath)
    .argument('<index>', 'character index', parseCount)
    .argument('<text>', 'the text to insert');
  writeCommand(program, io, 'text-delete', 'delete characters of a text', (path: string[], index: number, length: number) => ops.textDelete(path, index, length))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the text', parseDocPath)
    .argument('<index>', 'first character to delete', parseCount)
    .argument('<len>', 'how many characters', parseCount);
  writeCommand(program, io, 'list-insert', 'insert JSON values into a list', (path: string[], index: number, values: unknown[]) => ops.listInsert(path, index, values))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the list', parseDocPath)
    .argument('<index>', 'insert before this index', parseCount)
    .argument('<json...>', 'values as JSON', (text: string, previous: unknown[] | undefined) => [...(previous ?? []), parseJsonValue(text)]);
  writeCommand(program, io, 'list-delete', 'delete items of a list', (path: string[], index: number, count: number | undefined) => ops.listDelete(path, index, count ?? 1))
    .argument('<doc>', 'document id')
    .argument('<path>', 'dot-separated path of the list', parseDocPath)
    .argument('<index>', 'first item to delete', parseCount)
    .argument('[count]', 'how many items (default 1)', parseCount);

  addClientOptions(program.command('get').description('print a document as JSON'))
    .argument('<doc>', 'document id')
    .option('--min-version <hex>', 'wait until the node has at least this version', parseHex)
    .action(async (documentId: string, options: ClientCliOptions & { minVersion?: Buffer }) => {
      await withClient(options, async (client) => {
        const response = await client.get(documentId, { minVersion: options.minVersion });
        const document = parseDocumentJson(response.json);
        if (options.json) {
          io.out(toJsonLine({ documentId, nodeId: response.nodeId, version: response.version, document }));
        } else {
          io.out(JSON.stringify(document, null, 2));
          io.out(`# version=${hex(response.version)}  node=${response.nodeId}`);
        }
      });
    });

  addClientOptions(program.command('watch').description('print every change of a document until Ctrl-C'))
    .argument('<doc>', 'document id')
    .option('--from-version <hex>', 'resume after this version instead of sending the whole document', parseHex)
    .action((documentId: string, options: ClientCliOptions & { fromVersion?: Buffer }) => watchCommand(io, documentId, options));

  addClientOptions(program.command('ls').description('list documents'))
    .argument('[prefix]', 'only ids starting with this', '')
    .option('--limit <n>', 'stop after this many documents', parsePositiveInt)
    .action(async (prefix: string, options: ClientCliOptions & { limit?: number }) => {
      await withClient(options, async (client) => {
        const found: { documentId: string; updates: bigint; bytes: bigint }[] = [];
        let startAfter = '';
        // Pages until the node says there are no more (or the limit is reached).
        do {
          const page = await client.list(prefix, { startAfter, limit: Math.min(1000, (options.limit ?? Infinity) - found.length) });
          found.push(...page.documents);
          startAfter = page.nextStartAfter;
        } while (startAfter !== '' && found.length < (options.limit ?? Infinity));
        if (options.json) io.out(toJsonLine(found));
        else if (found.length === 0) io.out(`no documents${prefix ? ` starting with ${prefix}` : ''}`);
        else for (const d of found) io.out(`${d.documentId}  updates=${d.updates}  bytes=${d.bytes}`);
      });
    });
}
