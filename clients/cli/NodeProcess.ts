import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

// One node child process, started the way the node's process contract says: it prints a JSON
// line {"event":"ready",...} on stdout when serving and exits cleanly on SIGINT/SIGTERM.
// Children get their own process group (detached) so that only we signal them: a Ctrl-C in the
// terminal reaches the launcher once, and the launcher stops each node exactly once, by PID.

export interface NodeProcessSpec {
  id: string;
  /** Script run with `node --import tsx`, relative to cwd or absolute. */
  entry: string;
  /** Flags for node itself (V8's), before `--import tsx`. */
  nodeFlags?: readonly string[];
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs: number;
  onOutput?: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the exit followed stop() or kill(), false for a crash or an outside signal. */
  expected: boolean;
}

const stderrTailCharsMax = 16_384;

export class NodeProcess {
  private child: ChildProcess | undefined;
  private closed: Promise<void> = Promise.resolve();
  private stderrTail = '';
  private expectingExit = false;

  constructor(
    private readonly spec: NodeProcessSpec,
    private readonly onExitAfterReady: (info: ExitInfo) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the node wrote to stderr (bounded), for error messages. */
  get stderr(): string {
    return this.stderrTail;
  }

  /** Spawns the node; resolves when it is ready, rejects (with its stderr) if it is not. */
  start(): Promise<void> {
    const { spec } = this;
    const child = spawn(process.execPath, [...(spec.nodeFlags ?? []), '--import', 'tsx', spec.entry, ...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.stderrTail = '';
    this.expectingExit = false;
    let settled = false;
    let ready = false;
    return new Promise<void>((resolve, reject) => {
      const fail = (reason: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const stderr = this.stderrTail.trimEnd();
        reject(new Error(`node ${spec.id} ${reason}${stderr ? `\n--- stderr of ${spec.id} ---\n${stderr}` : ' (no stderr)'}`));
      };
      const timer = setTimeout(() => {
        fail(`was not ready within ${spec.readyTimeoutMs} ms`);
        child.kill('SIGKILL');
      }, spec.readyTimeoutMs);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!settled && isReadyLine(line)) {
          settled = true;
          ready = true;
          clearTimeout(timer);
          resolve();
        } else spec.onOutput?.('stdout', line);
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        this.stderrTail = (this.stderrTail + line + '\n').slice(-stderrTailCharsMax);
        spec.onOutput?.('stderr', line);
      });
      child.once('error', (error) => fail(`could not be started: ${error.message}`));
      // 'close' rather than 'exit': it fires once stdout and stderr are drained, so the stderr
      // tail in the error message is complete.
      this.closed = new Promise((closed) =>
        child.once('close', (code, signal) => {
          if (this.child === child) this.child = undefined;
          closed();
          if (ready) this.onExitAfterReady({ code, signal, expected: this.expectingExit });
          else fail(`exited (${describeExit(code, signal)}) before it was ready`);
        }),
      );
    });
  }

  /** Sends `signal`; resolves once the process has exited (at once for SIGSTOP/SIGCONT). */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      child.kill(signal);
      return;
    }
    this.expectingExit = true;
    child.kill(signal);
    await this.closed;
  }

  /** SIGTERM, then SIGKILL if the node has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.expectingExit = true;
    // A stopped (SIGSTOP) node cannot act on SIGTERM until it is continued.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.closed;
    clearTimeout(timer);
  }

  /** Last resort when the launcher itself is exiting: synchronous, no waiting. */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }
}

function isReadyLine(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    return (JSON.parse(line) as { event?: unknown }).event === 'ready';
  } catch {
    return false;
  }
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}
