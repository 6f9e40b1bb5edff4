import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';

// A reference server (etcd member, redis-server) run as our child: its own process group so a
// Ctrl-C reaches only the harness, output to a log file for post-mortems, stopped by its PID
// (SIGTERM, SIGKILL after a grace period), and killed when the harness exits whatever happens.

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((c) => c.kill('SIGKILL')));

export class ServerProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private exitText = '';

  constructor(readonly name: string, command: string, args: readonly string[], readonly logFile: string) {
    const log = fs.openSync(logFile, 'a');
    this.child = spawn(command, args, { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    running.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        this.exitText = signal !== null ? `signal ${signal}` : `code ${code}`;
        resolve();
      });
      this.child.once('error', (err) => {
        running.delete(this.child);
        this.exitText = err.message;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Why it exited, or undefined while it runs. */
  get exit(): string | undefined {
    return this.exitText === '' ? undefined : this.exitText;
  }

  /** The last lines of its log, for error messages. */
  tail(lines = 20): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(graceMs = 5000): Promise<void> {
    if (this.exit !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `check` every 100 ms until it resolves true; fails after `timeoutMs` with `what`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
