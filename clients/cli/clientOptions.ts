import type { Command } from 'commander';
import type { Ack } from '../client/ackLevel';
import { status } from '@grpc/grpc-js';
import { ConcordClient } from '../client/ConcordClient';
import { isServiceError, serviceError } from '../client/serviceError';
import { tlsFilesFrom, type TlsFiles } from '../client/tlsFiles';
import { endpointsFromEnv, parseAck, parseEndpoints, parsePositiveInt } from './cliParsers';

// The options every command that talks to a cluster shares, and the client they configure.
// They are declared on each subcommand, so they may follow its arguments:
// `concord get demo/hello --endpoints 127.0.0.1:7001`.

/** Where commands write, and the exit code a command sets when it printed a result but failed. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  exitCode: number;
}

export interface ClientCliOptions {
  endpoints?: string[];
  json?: boolean;
  timeout: number;
  cacert?: string;
  cert?: string;
  key?: string;
}

export interface WriteCliOptions extends ClientCliOptions {
  ack?: Ack;
}

export interface AdminCliOptions extends ClientCliOptions {
  adminToken?: string;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--endpoints <list>', 'nodes to use, host:port,... (default: $CONCORD_ENDPOINTS or 127.0.0.1:7001-7003)', parseEndpoints)
    .option('--json', 'machine-readable output')
    .option('--timeout <ms>', 'deadline of each call in ms', parsePositiveInt, 5000)
    .option('--cacert <file>', 'mutual TLS, to nodes started with --tls-*: the cluster\'s CA certificate (default: $CONCORD_CACERT)')
    .option('--cert <file>', 'this client\'s certificate, signed by that CA (default: $CONCORD_CERT)')
    .option('--key <file>', 'the private key of --cert (default: $CONCORD_KEY)');
}

/** The CLI's TLS files: options first, then $CONCORD_CACERT, $CONCORD_CERT and $CONCORD_KEY. */
export function cliTlsFiles(options: Pick<ClientCliOptions, 'cacert' | 'cert' | 'key'>, env: NodeJS.ProcessEnv): TlsFiles | undefined {
  return tlsFilesFrom(
    { ca: options.cacert ?? env.CONCORD_CACERT, cert: options.cert ?? env.CONCORD_CERT, key: options.key ?? env.CONCORD_KEY },
    { ca: '--cacert (or $CONCORD_CACERT)', cert: '--cert (or $CONCORD_CERT)', key: '--key (or $CONCORD_KEY)' },
  );
}

export function addWriteOptions(command: Command): Command {
  return addClientOptions(command).option('--ack <level>', 'durability before the ack: local, quorum or all', parseAck);
}

/** Options of commands that change nodes' links (guarded by the cluster's admin token). */
export function addAdminOptions(command: Command): Command {
  return addClientOptions(command).option(
    '--admin-token <token>',
    'the cluster admin token (default: $CONCORD_ADMIN_TOKEN, else the file .concord/data/admin-token that `concord up` writes)',
  );
}

/** The endpoints the options name: --endpoints, else $CONCORD_ENDPOINTS, else the local cluster's. */
export function cliEndpoints(options: ClientCliOptions): string[] {
  return options.endpoints ?? endpointsFromEnv(process.env);
}

/** A client over `endpoints` with the options' deadline and TLS files (close it when done). */
export function cliClient(options: ClientCliOptions, endpoints: string[], adminToken?: string): ConcordClient {
  return new ConcordClient({ endpoints, deadlineMs: options.timeout, session: true, adminToken, tls: cliTlsFiles(options, process.env) });
}

/**
 * Runs `body` with a client over the chosen endpoints and closes it afterwards. The CLI keeps a
 * session so a command that writes then reads (or a watch that resumes) never goes backwards.
 */
export async function withClient<T>(
  options: ClientCliOptions,
  body: (client: ConcordClient) => Promise<T>,
  adminToken?: string,
): Promise<T> {
  const tls = cliTlsFiles(options, process.env);
  const client = cliClient(options, cliEndpoints(options), adminToken);
  try {
    return await body(client);
  } catch (error) {
    throw tls === undefined ? withTlsHint(error) : error;
  } finally {
    client.close();
  }
}

/**
 * A plaintext connection to a node that speaks TLS fails with nothing but "Failed to connect"
 * (the node drops it): say what would help, since the CLI was given no TLS files.
 */
export function withTlsHint(error: unknown): unknown {
  if (!isServiceError(error) || error.code !== status.UNAVAILABLE || !/^no node reachable .*: Failed to connect\)$/.test(error.details)) return error;
  return serviceError(error.code, `${error.details}; if the nodes use TLS, give --cacert, --cert and --key (or CONCORD_CACERT, CONCORD_CERT and CONCORD_KEY)`);
}
