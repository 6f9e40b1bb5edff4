import { spawn } from 'node:child_process';
import * as os from 'node:os';
import type { Command } from 'commander';
import { acquireLock } from '../client/lock/acquireLock';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { parseDurationMs } from './kvParsers';

// `concord lock <name> [command...]`, as `etcdctl lock`: acquires the lock, then runs the
// command with CONCORD_LOCK_KEY and CONCORD_LOCK_FENCING_TOKEN in its environment and gives the
// lock up when it exits (its exit code is the CLI's); without a command, holds the lock until
// Ctrl-C. Should the lock be lost meanwhile (the lease could not be renewed), the command is
// sent SIGTERM and the CLI exits with 4.

interface LockCliOptions extends ClientCliOptions {
  ttl: number;
  wait?: number;
  prefix: string;
}

/** Exit code when the lock was lost while held. */
export const lockLostExitCode = 4;

export function registerLockCommand(program: Command, io: Io): void {
  addClientOptions(program.command('lock').description('acquire a distributed lock, run a command under it (or hold it until Ctrl-C), then release it'))
    .argument('<name>', 'the lock\'s name')
    .argument('[command...]', 'the command to run while holding the lock (put it after --)')
    .option('--ttl <duration>', 'how soon the lock frees itself if this process dies', parseDurationMs, 10_000)
    .option('--wait <duration>', 'give up waiting after this long (exit code 1)', parseDurationMs)
    .option('--prefix <prefix>', 'where the lock\'s keys live', 'locks/')
    .action((name: string, command: string[], options: LockCliOptions) =>
      withClient(options, async (client) => {
        const stop = new AbortController();
        const onSignal = (): void => stop.abort(new Error('interrupted'));
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const held = await acquireLock(client, name, { ttlMs: options.ttl, waitMs: options.wait, prefix: options.prefix, signal: stop.signal, owner: `${os.hostname()}:${process.pid}` });
          try {
            if (options.json) io.out(JSON.stringify({ name, key: held.key, fencingToken: String(held.fencingToken), lease: String(held.lease) }));
            else io.out(`locked ${name}  key=${held.key}  fencing_token=${held.fencingToken}`);
            const lost = new Promise<'lost'>((resolve) => held.lost.addEventListener('abort', () => resolve('lost'), { once: true }));
            const stopped = new Promise<'stopped'>((resolve) => stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
            if (command.length === 0) {
              if ((await Promise.race([lost, stopped])) === 'lost') {
                io.err(`lock ${name} lost: ${String((held.lost.reason as Error | undefined)?.message ?? held.lost.reason)}`);
                io.exitCode = lockLostExitCode;
              }
              return;
            }
            const child = spawn(command[0] as string, command.slice(1), {
              stdio: 'inherit',
              env: { ...process.env, CONCORD_LOCK_KEY: held.key, CONCORD_LOCK_FENCING_TOKEN: String(held.fencingToken) },
            });
            const exited = new Promise<number>((resolve) => {
              child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0))));
              child.once('error', (err) => {
                io.err(`could not run ${command[0]}: ${err.message}`);
                resolve(127);
              });
            });
            const first = await Promise.race([exited, lost, stopped]);
            if (first === 'lost' || first === 'stopped') {
              if (first === 'lost') io.err(`lock ${name} lost: ${String((held.lost.reason as Error | undefined)?.message ?? held.lost.reason)}; stopping ${command[0]}`);
              child.kill('SIGTERM');
              const code = await exited;
              io.exitCode = first === 'lost' ? lockLostExitCode : code;
              return;
            }
            io.exitCode = first;
          } finally {
            await held.release();
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
