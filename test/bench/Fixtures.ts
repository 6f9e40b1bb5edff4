import * as fs from 'node:fs';
import * as path from 'node:path';
import { BenchContext } from './BenchContext';
import { ConcordBenchCluster, ConcordBenchOptions, rssBytes, startConcordBench } from './concord/ConcordBenchCluster';
import { EchoServers, startEchoServers } from './echo/EchoServers';
import { EtcdCluster, startEtcdCluster } from './references/EtcdCluster';
import { RedisGroup, startRedisGroup } from './references/RedisGroup';

/**
 * The servers a run shares between scenarios, started on first use and all stopped at the end
 * (also after a failure): a 3-master Concord, a 3-member etcd, Redis with 2 replicas, three
 * grpc-js echo processes. Sharing keeps the run short; the scenarios that restart or cut nodes
 * start their own.
 */
export class Fixtures {
  private concord3: Promise<ConcordBenchCluster> | undefined;
  private etcd3: Promise<EtcdCluster> | undefined;
  private redis3: Promise<RedisGroup> | undefined;
  private echo3: Promise<EchoServers> | undefined;
  private readonly owned: { stop(): Promise<void> }[] = [];

  constructor(private readonly ctx: BenchContext) {}

  concord(): Promise<ConcordBenchCluster> {
    this.concord3 ??= this.startConcord(3, 'concord3');
    return this.concord3;
  }

  /** A cluster this scenario owns; it is stopped at the end of the run if the scenario did not. */
  startConcord(nodes: number, label: string, env?: Readonly<Record<string, string | undefined>>, more: Pick<ConcordBenchOptions, 'extraArgs' | 'credentials'> = {}): Promise<ConcordBenchCluster> {
    return this.own(startConcordBench({
      nodes,
      ...(env === undefined ? {} : { env }),
      ...more,
      cpuProfileDir: this.ctx.options.profile ? this.profileDir(label) : undefined,
      log: (line) => this.ctx.log(line),
    }));
  }

  etcd(): Promise<EtcdCluster> {
    this.etcd3 ??= this.own(startEtcdCluster(3, rssBytes).then((e) => {
      this.ctx.versions.etcd = e.version;
      return e;
    }));
    return this.etcd3;
  }

  redis(): Promise<RedisGroup> {
    this.redis3 ??= this.own(startRedisGroup(2, rssBytes).then((r) => {
      this.ctx.versions.redis = r.version;
      return r;
    }));
    return this.redis3;
  }

  echo(): Promise<EchoServers> {
    this.echo3 ??= this.own(startEchoServers(3));
    return this.echo3;
  }

  async stopAll(): Promise<void> {
    const all = this.owned.splice(0);
    await Promise.allSettled(all.map((s) => s.stop()));
  }

  private profileDir(label: string): string {
    const dir = path.join(this.ctx.runDir, 'profiles', label);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Registers a started server for stopAll; its stop() becomes idempotent (safe to call twice). */
  private async own<T extends { stop(): Promise<void> }>(starting: Promise<T>): Promise<T> {
    const started = await starting;
    const stop = started.stop.bind(started);
    let stopping: Promise<void> | undefined;
    started.stop = () => (stopping ??= stop());
    this.owned.push(started);
    return started;
  }
}
