import { SingleBar } from 'cli-progress';

/**
 * The run's progress: a bar on a terminal, plain lines elsewhere (CI logs, jest), both on
 * stderr so stdout carries only the results table. Log lines pass above the bar.
 */
export class Progress {
  private readonly bar: SingleBar | undefined;
  private done = 0;
  private label = '';
  private readonly startedAt = Date.now();

  constructor(private readonly total: number, private readonly quiet = false) {
    if (process.stderr.isTTY && !quiet) {
      this.bar = new SingleBar({
        stream: process.stderr,
        format: 'bench [{bar}] {percentage}% | {value}/{total} steps | {duration_formatted} | {label}',
        hideCursor: true,
        clearOnComplete: false,
      });
      this.bar.start(total, 0, { label: 'starting' });
    }
  }

  /** One planned step finished; `label` says what runs next. */
  step(label: string): void {
    this.done++;
    this.label = label;
    if (this.bar !== undefined) this.bar.update(this.done, { label });
    else if (!this.quiet) process.stderr.write(`[bench ${this.done}/${this.total} ${((Date.now() - this.startedAt) / 1000).toFixed(1)} s] ${label}\n`);
  }

  /** Says what is running without counting a step. */
  status(label: string): void {
    this.label = label;
    this.bar?.update(this.done, { label });
  }

  log(line: string): void {
    if (this.bar !== undefined) {
      this.bar.stop();
      process.stderr.write(`${line}\n`);
      this.bar.start(this.total, this.done, { label: this.label });
    } else if (!this.quiet) process.stderr.write(`${line}\n`);
  }

  stop(): void {
    this.bar?.update(this.total, { label: 'done' });
    this.bar?.stop();
  }
}
