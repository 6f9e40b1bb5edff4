import { Command } from 'commander';
import type { Io } from './clientOptions';
import { registerCounterCommands } from './counterCommands';
import { registerDocumentCommands } from './documentCommands';
import { registerKvCommands } from './kvCommands';
import { registerLeaseCommands } from './leaseCommands';
import { registerLedgerCommand } from './ledgerCommand';
import { registerLinkFaultCommands } from './linkFaultCommands';
import { reportError } from './reportError';
import { registerStatusCommand } from './statusCommand';
import { registerUpCommand } from './upCommand';
import { registerWhoAmICommand } from './whoAmICommand';
import { registerSagaCommands } from './sagaCommands';
import { registerBackupCommands } from './backupCommands';
import { registerLockCommand } from './lockCommand';
import { registerElectCommand } from './electCommand';

// The `concord` command line. concord.js (the bin) registers tsx and calls runCli; nothing runs
// on import, so tests can build the program and parse arguments without side effects.

export function buildProgram(io: Io): Command {
  const program = new Command('concord')
    .description('Concord: replicated documents and an authoritative key-value store over gRPC. Start a local cluster, read and write documents, kv/lease/counter, watch, status, inject partitions.')
    .showHelpAfterError('(run with --help for usage)')
    // Errors come back to runCli as exceptions so it can choose the exit code (2 for usage).
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  registerUpCommand(program, io);
  registerDocumentCommands(program, io);
  registerKvCommands(program, io);
  registerLeaseCommands(program, io);
  registerCounterCommands(program, io);
  registerStatusCommand(program, io);
  registerLinkFaultCommands(program, io);
  registerLedgerCommand(program, io);
  registerWhoAmICommand(program, io);
  registerSagaCommands(program, io);
  registerBackupCommands(program, io);
  registerLockCommand(program, io);
  registerElectCommand(program, io);
  // Subcommands (and theirs: kv get) inherit exit override and output, so their usage errors
  // are reported the same way.
  const inherit = (parent: Command): void => {
    for (const command of parent.commands) {
      command.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError('(run with --help for usage)');
      inherit(command);
    }
  };
  inherit(program);
  return program;
}

/**
 * Drops a `--` that only guards a negative number: commander already takes `-30` as an
 * argument, and after `--` it would take `--floor 0` as arguments too, so the documented
 * `concord counter add wallet/alice -- -30 --floor 0` would fail with "too many arguments".
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  const i = argv.indexOf('--');
  if (i < 0 || !/^-(\d+|\d*\.\d+)$/.test(argv[i + 1] ?? '')) return [...argv];
  return [...argv.slice(0, i), ...argv.slice(i + 1)];
}

/** Runs the CLI on `argv` (as process.argv: node, script, args...) and returns the exit code. */
export async function runCli(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync(normalizeArgv(argv));
    return io.exitCode;
  } catch (error) {
    return reportError(error, (line) => io.err(line));
  }
}

function processIo(): Io {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    exitCode: 0,
  };
}
