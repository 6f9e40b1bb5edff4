import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import type { Command } from 'commander';
import { acquireLock, type HeldLock } from '../client/lock/acquireLock';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { parseDurationMs } from './kvParsers';

// `concord lock <name> [command...]`, as `etcdctl lock`: acquires the lock, then runs the
// command with CONCORD_LOCK_KEY and CONCORD_LOCK_FENCING_TOKEN in its environment and gives the
// lock up when it exits (its exit code is the CLI's); without a command, holds the lock until
// Ctrl-C. Should the lock be lost meanwhile (the lease could not be renewed), the command is
// sent SIGTERM and the CLI exits with 4; Ctrl-C while waiting exits with 130, nothing held.

interface LockCliOptions extends ClientCliOptions {
  ttl: number;
  wait?: number;
  prefix: string;
}

/** Exit code when the lock was lost while held. */
export const lockLostExitCode = 4;
/** Exit code when Ctrl-C (or SIGTERM) came before the lock was held, as shells report SIGINT. */
export const interruptedExitCode = 130;

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
        let child: ChildProcess | undefined;
        // The first Ctrl-C (or SIGTERM) stops waiting, or ends the hold (the command is sent
        // SIGTERM); another one kills the command outright.
        const onSignal = (): void => {
          if (!stop.signal.aborted) stop.abort(new Error('interrupted'));
          else child?.kill('SIGKILL');
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // Keeps the process alive while it waits and holds: the lease's timers do not.
        const alive = setInterval(() => undefined, 1 << 30);
        try {
          let held: HeldLock;
          try {
            held = await acquireLock(client, name, { ttlMs: options.ttl, waitMs: options.wait, prefix: options.prefix, signal: stop.signal, owner: `${os.hostname()}:${process.pid}` });
          } catch (err) {
            if (!stop.signal.aborted) throw err;
            io.err(`interrupted while waiting for lock ${name}; nothing is held`);
            io.exitCode = interruptedExitCode;
            return;
          }
          try {
            if (options.json) io.out(JSON.stringify({ name, key: held.key, fencingToken: String(held.fencingToken), lease: String(held.lease) }));
            else io.out(`locked ${name}  key=${held.key}  fencing_token=${held.fencingToken}`);
            const lost = whenAborted(held.lost, 'lost' as const);
            const stopped = whenAborted(stop.signal, 'stopped' as const);
            const lostMessage = (): string => `lock ${name} lost: ${String((held.lost.reason as Error | undefined)?.message ?? held.lost.reason)}`;
            if (command.length === 0) {
              if ((await Promise.race([lost, stopped])) === 'lost') {
                io.err(lostMessage());
                io.exitCode = lockLostExitCode;
              }
              return;
            }
            if (held.lost.aborted || stop.signal.aborted) {
              io.err(held.lost.aborted ? lostMessage() : 'interrupted; the command was not run');
              io.exitCode = held.lost.aborted ? lockLostExitCode : interruptedExitCode;
              return;
            }
            const running = spawn(command[0] as string, command.slice(1), {
              stdio: 'inherit',
              env: { ...process.env, CONCORD_LOCK_KEY: held.key, CONCORD_LOCK_FENCING_TOKEN: String(held.fencingToken) },
            });
            child = running;
            const exited = new Promise<number>((resolve) => {
              running.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0))));
              running.once('error', (err) => {
                io.err(`could not run ${command[0]}: ${err.message}`);
                resolve(127);
              });
            });
            const first = await Promise.race([exited, lost, stopped]);
            if (first === 'lost' || first === 'stopped') {
              if (first === 'lost') io.err(`${lostMessage()}; stopping ${command[0]}`);
              running.kill('SIGTERM');
              const code = await exited;
              io.exitCode = first === 'lost' ? lockLostExitCode : code;
              return;
            }
            io.exitCode = first;
          } finally {
            // The command's outcome stands; the lock then ends with its lease.
            await held.release().catch((err: unknown) => io.err(`warning: ${(err as Error).message}`));
          }
        } finally {
          clearInterval(alive);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}

/** Resolves with `value` once `signal` is aborted (at once if it already is). */
function whenAborted<T>(signal: AbortSignal, value: T): Promise<T> {
  if (signal.aborted) return Promise.resolve(value);
  return new Promise<T>((resolve) => signal.addEventListener('abort', () => resolve(value), { once: true }));
}
