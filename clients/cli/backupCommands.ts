import type { Command } from 'commander';
import type { Ack } from '../client/ackLevel';
import { backupCluster } from '../client/backup/backupCluster';
import { readBackup } from '../client/backup/BackupFile';
import { restoreCluster } from '../client/backup/restoreCluster';
import { addClientOptions, cliClient, cliEndpoints, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { parseAck } from './cliParsers';

// `concord backup <file>`, `concord restore <file>`, `concord backup-check <file>`: a cluster's
// KV keys (at one revision) and documents (merged from every endpoint) in one file, and back.

interface RestoreCliOptions extends ClientCliOptions {
  overwrite?: boolean;
  ack?: Ack;
}

export function registerBackupCommands(program: Command, io: Io): void {
  addClientOptions(program.command('backup').description('write every KV key (at one revision) and every document (merged from each endpoint) into a file'))
    .argument('<file>', 'the backup file to write (gzip\'d JSON lines; it appears only once complete)')
    .option('--skip-unreachable', 'go on without the documents of an endpoint that cannot be reached (default: fail, since its side of a split may hold writes no other has)')
    .action((file: string, options: ClientCliOptions & { skipUnreachable?: boolean }) =>
      withClient(options, async (client) => {
        const sources = cliEndpoints(options).map((endpoint) => ({ name: endpoint, client: cliClient(options, [endpoint]) }));
        try {
          const res = await backupCluster(client, file, { documentSources: sources, skipUnreachable: options.skipUnreachable });
          if (options.json) io.out(JSON.stringify({ file, ...res }));
          else {
            io.out(`backed up ${res.keys} key${res.keys === 1 ? '' : 's'} (revision ${res.kvRevision}) and ${res.documents} document${res.documents === 1 ? '' : 's'} to ${file}`);
            for (const s of res.skippedSources) io.out(`  documents not read from ${s}`);
          }
        } finally {
          sources.forEach((s) => s.client.close());
        }
      }),
    );

  program.command('backup-check').description('check a backup file whole (counts and hash) without restoring it')
    .argument('<file>', 'the backup file')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { json?: boolean }) => {
      const s = await readBackup(file);
      if (options.json) io.out(JSON.stringify(s));
      else io.out(`${file}: whole; ${s.keys} keys (revision ${s.header.kvRevision}) and ${s.documents} documents, written ${s.header.createdAt}`);
    });

  addClientOptions(program.command('restore').description('restore a backup into a running cluster: documents merged in, KV keys created where absent (exit code 3: restored, but keys left or documents too large)'))
    .argument('<file>', 'the backup file (checked whole before anything is written)')
    .option('--overwrite', 'put keys that exist with another value (default: leave them and list them)')
    .option('--ack <level>', 'the documents\' durability before each is counted: local, quorum or all', parseAck, 'quorum')
    .action((file: string, options: RestoreCliOptions) =>
      withClient(options, async (client) => {
        const res = await restoreCluster(client, file, { overwrite: options.overwrite, ack: options.ack });
        if (options.json) io.out(JSON.stringify(res));
        else {
          io.out(`restored ${res.documents} document${res.documents === 1 ? '' : 's'} and ${res.keys} key${res.keys === 1 ? '' : 's'}; ${res.keysUnchanged} already held their value, ${res.leasedSkipped} leased left out`);
          if (res.conflicts.length > 0) io.out(`${res.conflicts.length} key${res.conflicts.length === 1 ? '' : 's'} hold another value, left as they are (--overwrite to replace): ${listed(res.conflicts)}`);
          if (res.documentsTooLarge.length > 0) io.out(`${res.documentsTooLarge.length} document${res.documentsTooLarge.length === 1 ? ' is' : 's are'} larger than a client may push in one update, not restored: ${listed(res.documentsTooLarge)}`);
        }
        // Not an error of the call (1) nor of usage (2): restored, with something left undone.
        if (res.conflicts.length > 0 || res.documentsTooLarge.length > 0) io.exitCode = 3;
      }),
    );
}

function listed(items: readonly string[]): string {
  return `${items.slice(0, 20).join(', ')}${items.length > 20 ? ', ...' : ''}`;
}
