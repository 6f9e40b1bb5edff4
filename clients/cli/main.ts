import { Command } from 'commander';
import type { Io } from './clientOptions';
import { registerDocumentCommands } from './documentCommands';
import { registerLedgerCommand } from './ledgerCommand';
import { registerLinkFaultCommands } from './linkFaultCommands';
import { reportError } from './reportError';
import { registerStatusCommand } from './statusCommand';
import { registerUpCommand } from './upCommand';

// The `concord` command line. concord.js (the bin) registers tsx and calls runCli; nothing runs
// on import, so tests can build the program and parse arguments without side effects.

export function buildProgram(io: Io): Command {
  const program = new Command('concord')
    .description('Concord: replicated documents over gRPC. Start a local cluster, read and write documents, watch, status, inject partitions.')
    .showHelpAfterError('(run with --help for usage)')
    // Errors come back to runCli as exceptions so it can choose the exit code (2 for usage).
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  registerUpCommand(program, io);
  registerDocumentCommands(program, io);
  registerStatusCommand(program, io);
  registerLinkFaultCommands(program, io);
  registerLedgerCommand(program, io);
  // Subcommands inherit exit override and output, so their usage errors are reported the same way.
  for (const command of program.commands) {
    command.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

/** Runs the CLI on `argv` (as process.argv: node, script, args...) and returns the exit code. */
export async function runCli(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync([...argv]);
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
