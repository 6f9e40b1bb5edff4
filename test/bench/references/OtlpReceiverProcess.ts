import * as fs from 'node:fs';
import * as path from 'node:path';
import { ServerProcess, waitUntil } from './ServerProcess';

/** What the receiver process got so far, as its status file says. */
export interface ReceiverStatus {
  readonly port: number;
  readonly spans: number;
  readonly exports: number;
  /** Exporting processes (service.instance.id, else service.name). */
  readonly services: readonly string[];
}

const entry = path.join(__dirname, 'otlpReceiverMain.ts');
const none: ReceiverStatus = { port: 0, spans: 0, exports: 0, services: [] };

/**
 * The tracing scenario's OTLP/gRPC receiver in a process of its own (see otlpReceiverMain),
 * read through the status file it keeps, stopped by its PID. Its CPU time is the collector's,
 * apart from the load generator's and the nodes'.
 */
export class OtlpReceiverProcess {
  private constructor(
    private readonly proc: ServerProcess,
    private readonly statusFile: string,
    readonly port: number,
  ) {}

  /** Starts it with its status and log files in `dir`; resolves once it listens. */
  static async start(dir: string): Promise<OtlpReceiverProcess> {
    const statusFile = path.join(dir, 'otlp-receiver.json');
    fs.rmSync(statusFile, { force: true });
    const proc = new ServerProcess('otlp-receiver', process.execPath, ['--import', 'tsx', entry, statusFile], path.join(dir, 'otlp-receiver.log'));
    let port = 0;
    try {
      // An exit ends the wait (waitUntil takes a throwing check for a false one) and is reported
      // with the receiver's log.
      await waitUntil('the OTLP receiver to listen', async () => {
        port = read(statusFile).port;
        return port > 0 || proc.exit !== undefined;
      }, 30_000);
      if (port === 0) throw new Error(`the OTLP receiver exited (${proc.exit ?? 'no status'}) before it listened:\n${proc.tail()}`);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return new OtlpReceiverProcess(proc, statusFile, port);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** What it has received so far (as of its last status write, about 100 ms old at most). */
  status(): ReceiverStatus {
    return read(this.statusFile);
  }

  /** Resolves once `check` holds over its status; rejects after `timeoutMs`. */
  async waitFor(what: string, check: (s: ReceiverStatus) => boolean, timeoutMs: number): Promise<void> {
    await waitUntil(what, async () => check(this.status()), timeoutMs);
  }

  /** Stops it (by its PID) and returns what it received in all. */
  async stop(): Promise<ReceiverStatus> {
    await this.proc.stop();
    return this.status();
  }
}

function read(file: string): ReceiverStatus {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ReceiverStatus;
  } catch {
    return none;
  }
}
