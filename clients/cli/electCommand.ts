import type { Command } from 'commander';
import { campaign, observeElection, type Leader } from '../client/lock/election';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { parseDurationMs } from './kvParsers';
import { UsageError } from './reportError';
import { interruptedExitCode, lockLostExitCode } from './lockCommand';

// `concord elect <name> <value>` campaigns, as `etcdctl elect`: once elected it prints its key
// and fencing token and leads until Ctrl-C (then resigns: the next candidate is elected at once)
// or until leadership is lost (exit 4). `concord elect <name> --listen` prints the leader, then
// every change of leader or of its value, until Ctrl-C.

interface ElectCliOptions extends ClientCliOptions {
  ttl: number;
  wait?: number;
  prefix: string;
  listen?: boolean;
}

export function registerElectCommand(program: Command, io: Io): void {
  addClientOptions(program.command('elect').description('campaign in a leader election and lead until Ctrl-C, or (--listen) print its leader and every change'))
    .argument('<name>', "the election's name")
    .argument('[value]', "this candidate's value (what observers see while it leads)")
    .option('--listen', 'print the leader and every change instead of campaigning')
    .option('--ttl <duration>', 'how soon leadership ends if this process dies', parseDurationMs, 10_000)
    .option('--wait <duration>', 'give up waiting to be elected after this long (exit code 1)', parseDurationMs)
    .option('--prefix <prefix>', "where the election's keys live", 'elections/')
    .action((name: string, value: string | undefined, options: ElectCliOptions) => {
      if ((value === undefined) === (options.listen !== true)) throw new UsageError('give a value to campaign with, or --listen to follow the leader (not both)');
      return withClient(options, async (client) => {
        const stop = new AbortController();
        const onSignal = (): void => stop.abort(new Error('interrupted'));
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // Keeps the process alive while it waits and leads: the lease's timers do not.
        const alive = setInterval(() => undefined, 1 << 30);
        try {
          if (options.listen === true) {
            for await (const leader of observeElection(client, name, { prefix: options.prefix, signal: stop.signal })) io.out(leaderLine(name, leader, options.json === true));
            return;
          }
          let led;
          try {
            led = await campaign(client, name, value as string, { prefix: options.prefix, ttlMs: options.ttl, waitMs: options.wait, signal: stop.signal });
          } catch (err) {
            if (!stop.signal.aborted) throw err;
            io.err(`interrupted while campaigning in election ${name}; not elected`);
            io.exitCode = interruptedExitCode;
            return;
          }
          try {
            if (options.json) io.out(JSON.stringify({ name, elected: true, key: led.key, value, fencingToken: String(led.fencingToken), lease: String(led.lease) }));
            else io.out(`elected ${name}  key=${led.key}  fencing_token=${led.fencingToken}`);
            const lost = await new Promise<boolean>((resolve) => {
              if (led.lost.aborted) return resolve(true);
              if (stop.signal.aborted) return resolve(false);
              led.lost.addEventListener('abort', () => resolve(true), { once: true });
              stop.signal.addEventListener('abort', () => resolve(false), { once: true });
            });
            if (lost) {
              io.err(`leadership of election ${name} lost: ${String((led.lost.reason as Error | undefined)?.message ?? led.lost.reason)}`);
              io.exitCode = lockLostExitCode;
            }
          } finally {
            await led.resign().catch((err: unknown) => io.err(`warning: ${(err as Error).message}`));
          }
        } finally {
          clearInterval(alive);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}

/** One line per leader; the value quoted (JSON), so one holding a newline stays on its line. */
function leaderLine(name: string, leader: Leader | undefined, json: boolean): string {
  if (json) return JSON.stringify({ name, leader: leader === undefined ? null : { key: leader.key, value: leader.value, fencingToken: String(leader.fencingToken), lease: String(leader.lease) } });
  return leader === undefined ? `no leader ${name}` : `leader ${name}  value=${JSON.stringify(leader.value)}  key=${leader.key}  fencing_token=${leader.fencingToken}`;
}
