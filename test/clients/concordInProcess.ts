import type { Io } from '../../clients/cli/clientOptions';
import { runCli } from '../../clients/cli/main';

/** Runs `concord <args>` in this process, collecting its output lines and exit code. */
export async function concordInProcess(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (line) => out.push(line), err: (line) => err.push(line), exitCode: 0 };
  const code = await runCli(['node', 'concord', ...args], io);
  return { code, out, err };
}
