import { Client, credentials } from '@grpc/grpc-js';
import { resolve } from 'node:path';
import { freeLoopbackPorts } from '../../../clients/cli/freeLoopbackPorts';
import { NodeProcess } from '../../../clients/cli/NodeProcess';
import { unaryStub } from '../unaryStub';
import { echoPath } from './echoServer';

/** Three bare grpc-js echo processes on loopback, with one client each (see echoServer). */
export interface EchoServers {
  /** A unary echo call to server `i`. */
  readonly calls: readonly ((payload: Buffer) => Promise<Buffer>)[];
  /** The pids of the first `processes` servers. */
  pids(processes: number): number[];
  stop(): Promise<void>;
}

export async function startEchoServers(count = 3): Promise<EchoServers> {
  const ports = await freeLoopbackPorts(count);
  // Node's defaults (no nodeFlags): the ceiling is a bare grpc-js server, not a tuned node.
  const servers = ports.map((port, i) => new NodeProcess({
    id: `echo${i + 1}`,
    entry: resolve(__dirname, 'echoServer.ts'),
    args: ['--listen', `127.0.0.1:${port}`],
    cwd: resolve(__dirname, '..', '..', '..'),
    env: process.env,
    readyTimeoutMs: 60_000,
  }, () => undefined));
  const clients: Client[] = [];
  const stop = async (): Promise<void> => {
    clients.forEach((c) => c.close());
    await Promise.all(servers.map((s) => s.stop(5000)));
  };
  try {
    await Promise.all(servers.map((s) => s.start()));
  } catch (err) {
    await stop();
    throw err;
  }
  const identity = (b: Buffer): Buffer => b;
  const calls = ports.map((port) => {
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    clients.push(client);
    const call = unaryStub<Buffer, Buffer>(client, echoPath, identity, identity);
    return (payload: Buffer) => call(payload);
  });
  return { calls, pids: (processes) => servers.slice(0, processes).map((s) => s.pid ?? 0), stop };
}
