import type { Command } from 'commander';
import type { SagaRecord, StepRecord } from '../client/saga/SagaRecord';
import { SagaRunner } from '../client/saga/SagaRunner';
import { kvSagaStore } from '../client/saga/SagaStore';
import { addClientOptions, withClient, type ClientCliOptions, type Io } from './clientOptions';
import { formatTable } from './formatTable';
import { parseDurationMs } from './kvParsers';

// `concord saga list|show`: the sagas SagaRunner keeps in the KV store (`<prefix>r/<id>`), for
// operators: which are done, compensated, still under way, or stuck waiting for someone to fix a
// failing compensation and resume them from the application (the steps are its code).

interface SagaCliOptions extends ClientCliOptions {
  prefix: string;
  status?: string;
}

export function registerSagaCommands(program: Command, io: Io): void {
  const saga = program.command('saga').description('sagas run by the client library\'s SagaRunner: their status and steps');

  addClientOptions(saga.command('list').description('every saga: type, status, steps done, last change'))
    .option('--prefix <prefix>', 'the runner\'s key prefix', 'sagas/')
    .option('--status <status>', 'only sagas in this status (running, compensating, done, compensated, stuck)')
    .action((options: SagaCliOptions) =>
      withClient(options, async (client) => {
        const records = (await client.kvRange(`${options.prefix}r/`, { prefix: true })).kvs
          .map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as SagaRecord)
          .filter((r) => options.status === undefined || r.status === options.status);
        if (options.json) io.out(JSON.stringify(records, null, 2));
        else for (const line of formatSagaList(records)) io.out(line);
      }),
    );

  addClientOptions(saga.command('show').description('one saga: each step\'s state, attempts, output and last error'))
    .argument('<id>', 'the saga id')
    .option('--prefix <prefix>', 'the runner\'s key prefix', 'sagas/')
    .action((id: string, options: SagaCliOptions) =>
      withClient(options, async (client) => {
        const kv = (await client.kvRange(`${options.prefix}r/${id}`)).kvs[0];
        if (kv === undefined) {
          io.err(`no saga ${id} under ${options.prefix}`);
          io.exitCode = 1;
          return;
        }
        const r = JSON.parse(Buffer.from(kv.value).toString('utf8')) as SagaRecord;
        if (options.json) io.out(JSON.stringify(r, null, 2));
        else for (const line of formatSaga(r)) io.out(line);
      }),
    );

  addClientOptions(saga.command('prune').description('delete the records (and step markers) of sagas finished longer ago than a duration'))
    .requiredOption('--older-than <duration>', 'finished at least this long ago: 30m, 24h', parseDurationMs)
    .option('--prefix <prefix>', 'the runner\'s key prefix', 'sagas/')
    .action((options: SagaCliOptions & { olderThan: number }) =>
      withClient(options, async (client) => {
        const removed = await new SagaRunner(kvSagaStore(client), { prefix: options.prefix }).prune(Date.now() - options.olderThan);
        io.out(options.json ? JSON.stringify({ removed }) : `removed ${removed} finished saga${removed === 1 ? '' : 's'}`);
      }),
    );
}

const progress = (r: SagaRecord): string => `${r.steps.filter((s) => s.state === 'done' || s.state === 'compensating' || s.state === 'compensated' || s.state === 'not-compensated').length}/${r.steps.length}`;
const when = (ms: number): string => new Date(ms).toISOString();
// Abnormal states in capitals, so they stand out.
const shown = (status: string): string => (status === 'stuck' ? 'STUCK' : status);

export function formatSagaList(records: readonly SagaRecord[]): string[] {
  if (records.length === 0) return ['no sagas'];
  return formatTable([
    ['ID', 'TYPE', 'STATUS', 'STEPS', 'UPDATED', 'REASON'],
    ...records.map((r) => [r.id, r.type, shown(r.status), progress(r), when(r.updatedAtMs), r.reason ?? '']),
  ]);
}

export function formatSaga(r: SagaRecord): string[] {
  const step = (s: StepRecord, i: number): string[] => [
    i.toString(), s.name, s.state, `${s.attempts}${s.compensationAttempts > 0 ? `+${s.compensationAttempts}` : ''}`,
    s.output === undefined ? '' : JSON.stringify(s.output), s.error ?? '',
  ];
  return [
    `saga ${r.id}  type=${r.type}  status=${shown(r.status)}  created ${when(r.createdAtMs)}  updated ${when(r.updatedAtMs)}`,
    ...(r.reason === undefined ? [] : [`compensating because ${r.reason}`]),
    `input: ${JSON.stringify(r.input)}`,
    ...formatTable([['#', 'STEP', 'STATE', 'ATTEMPTS', 'OUTPUT', 'LAST ERROR'], ...r.steps.map(step)]),
  ];
}
