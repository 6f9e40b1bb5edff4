import type { Command } from 'commander';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { eventJson, eventLine } from './kvOutput';
import { parseRevision } from './kvParsers';

// `concord kv watch <key>`: one line per change (revision, type, key, value) until Ctrl-C or
// SIGTERM, which end it cleanly with exit code 0. The client resumes on another node after a
// failure from the last revision + 1, so the output has no gap and no repeat.

interface WatchOptions extends ClientCliOptions {
  prefix?: boolean;
  rev?: bigint;
  prevKv?: boolean;
}

export function registerKvWatchCommand(kv: Command, io: Io): void {
  addClientOptions(kv.command('watch').description('print every change of a key (or prefix) until Ctrl-C'))
    .argument('<key>', 'the key (with --prefix: the prefix; "" for every key)')
    .option('--prefix', 'every key starting with <key>')
    .option('--rev <n>', 'replay the changes from this revision first', parseRevision)
    .option('--prev-kv', 'with --json: include the previous value of each changed key')
    .action((key: string, options: WatchOptions) => watch(io, key, options));
}

async function watch(io: Io, key: string, options: WatchOptions): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await withClient(options, async (client) => {
      const watchOptions = { prefix: options.prefix, startRevision: options.rev, prevKv: options.prevKv, signal: stop.signal };
      for await (const response of client.kvWatch(key, watchOptions)) {
        const revision = response.header?.revision ?? 0n;
        for (const event of response.events) io.out(options.json ? JSON.stringify(eventJson(revision, event)) : eventLine(revision, event));
      }
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
