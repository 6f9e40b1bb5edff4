import { createHash, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { AdminServiceService } from '../../proto/gen/concord/v1/admin';
import { DocumentServiceService, WriteResponse } from '../../proto/gen/concord/v1/documents';
import { adminService } from '../rpc/adminService';
import { documentService } from '../rpc/documentService';
import { startGrpcServer, StartedServer } from '../rpc/grpcServer';
import { peerService } from '../rpc/peerService';
import { LmdbEngine } from '../storage/LmdbEngine';
import { LoggedEngine } from '../storage/LoggedEngine';
import { StorageEngine } from '../storage/StorageEngine';
import { AntiEntropy } from './AntiEntropy';
import { AntiEntropySchedule } from './AntiEntropySchedule';
import { grpcAntiEntropyPeer } from './grpcAntiEntropyPeer';
import { DocumentNode } from './DocumentNode';
import { DocumentStore } from './DocumentStore';
import { NodeConfig } from './NodeConfig';
import { Replicator } from './Replicator';
import { TrafficStats } from './TrafficStats';
import { LinkFaults } from './LinkFaults';
import { PartitionLedger } from './PartitionLedger';
import { peerHostsOf, tlsReloadIntervalMsDefault, transportCredentials } from './transportCredentials';
import { ReloadingPolicy } from './ReloadingPolicy';
import { CallAuthorizer } from '../rpc/CallAuthorizer';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { PeerServiceService } from '../../proto/gen/concord/v1/peer';
import { encodeSyncResponse } from './encodeSyncResponse';
import { PeerLink } from './PeerLink';
import { RaftServiceService } from '../../proto/gen/concord/v1/raft';
import { KvServiceService, PutResponse } from '../../proto/gen/concord/v1/kv';
import { serializeReusing } from '../core/encodeReusing';
import { kvService } from '../rpc/kvService';
import { refusingService } from '../rpc/refusingService';
import { DomainError, notApplied } from '../core/errors/DomainError';
import { raftService } from '../rpc/raftService';
import { AuthorityNode } from './authority/AuthorityNode';
import { moveRaftLog } from './authority/moveRaftLog';
import { nodeKey } from './storageKeys';
import { traceAntiEntropyRound } from '../telemetry/antiEntropyTelemetry';
import { PartitionTelemetry } from '../telemetry/PartitionTelemetry';
import { observeReplication } from '../telemetry/replicationMetrics';
import { observeCertificate } from '../telemetry/tlsMetrics';

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

/** The peer service as generated, but Sync answers (a heal's diffs) encoded in one pass (see encodeSyncResponse). */
const peerServiceDefinition = { ...PeerServiceService, sync: { ...PeerServiceService.sync, responseSerialize: encodeSyncResponse } };

/** The answers to the busiest calls (a document write, a put) encoded with a kept writer (see serializeReusing). */
const documentServiceDefinition = { ...DocumentServiceService, apply: { ...DocumentServiceService.apply, responseSerialize: serializeReusing(WriteResponse.encode) } };
const kvServiceDefinition = { ...KvServiceService, put: { ...KvServiceService.put, responseSerialize: serializeReusing(PutResponse.encode) } };

/**
 * Resolves after a full event-loop turn: the first immediate runs in this turn's check phase
 * (after the sends HTTP/2 scheduled), the second after the next poll phase has read what arrived.
 */
const nextEventLoopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * One Concord node process: storage, the convergent path (documents, replication,
 * anti-entropy) and the gRPC server, wired together. `start` resolves once it serves.
 */
export class ConcordNode {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly telemetryStops: (() => void)[] = [];

  private constructor(
    readonly config: NodeConfig,
    readonly engine: LoggedEngine,
    readonly documents: DocumentNode,
    readonly grpc: StartedServer,
    readonly address: string,
    readonly authority: AuthorityNode | undefined,
    /** The authoritative log's own store (see openRaftLogStore); undefined on a replica. */
    readonly raftEngine: StorageEngine | undefined,
  ) {}

  /**
   * Why this node's storage failed, if it has: a document write, the documents' log (a sync, a
   * checkpoint) that no document write has met yet, or the authoritative log (consensus stopped
   * here). The process must stop (a failed sync is never retried).
   */
  get storageFailure(): Error | undefined {
    return this.documents.store.failure ?? this.engine.failure ?? this.authority?.failure;
  }

  static async start(config: NodeConfig, log: (msg: string) => void = () => undefined): Promise<ConcordNode> {
    // Bad TLS files fail the start here, before the data directory is touched.
    const transport = transportCredentials(config.tls, config.listen, config.peers.map((p) => p.address), log);
    const tlsFiles = transport.reloader;
    // So does a bad access policy. Users are named by their client certificates: no TLS, no users.
    if (config.authzFile !== undefined && config.tls === undefined) throw new Error('an access policy (--authz-file) needs mutual TLS (--tls-cert, --tls-key, --tls-ca): users are named by their client certificates');
    const policy = config.authzFile === undefined ? undefined : new ReloadingPolicy(config.authzFile, log);
    fs.mkdirSync(config.dataDir, { recursive: true });
    // Writes go to the documents' write-ahead log and reach LMDB in checkpoints (see LoggedEngine).
    const engine = await LoggedEngine.open(path.join(config.dataDir, 'wal'), LmdbEngine.open(config.dataDir));
    const incarnation = nextIncarnation(engine);
    await engine.write([{ type: 'put', key: nodeKey('incarnation'), value: new TextEncoder().encode(String(incarnation)) }]);
    // A fresh Yjs client id on every start: reusing one after a restart could reuse clocks.
    const clientId = randomInt(1, 2 ** 32 - 1);
    const store = new DocumentStore({ engine, clientId, hash: sha256, cacheDocumentsMax: config.cacheDocumentsMax });
    store.load();
    const traffic = new TrafficStats();
    const faults = new LinkFaults();
    const ledger = new PartitionLedger(engine, Date.now, log);
    ledger.load();
    store.onChange((c) => {
      if (c.origin === 'local' || c.origin === 'client') ledger.onLocalUpdate(c.docId);
      else if (c.origin.startsWith('remote:')) ledger.onRemoteUpdate(c.origin.slice('remote:'.length), c.docId);
    });
    const partitions = new PartitionTelemetry(config.nodeId, ledger);
    /** When the last round on a (re)connect (or asked for again, not periodic) completed. */
    let connectRoundDoneAt = 0;
    const runRound = (link: PeerLink, periodic = false): void => {
      const peerId = link.peerId;
      const traced = traceAntiEntropyRound(config.nodeId, peerId, grpcAntiEntropyPeer(link.client, config.nodeId));
      // After a heal both sides usually name everything they owe each other: pull just that.
      const plan = link.planRound();
      antiEntropy.round(peerId, traced.peer, undefined, plan.directed ? plan.documents : undefined).then((stats) => {
        link.roundFinished(plan, stats === undefined ? 'refused' : 'done', stats?.leftToPeer);
        if (stats !== undefined && !periodic) connectRoundDoneAt = Date.now();
        traced.finish(stats);
        if (stats !== undefined) ledger.onRoundDone(peerId, stats.startedAt, stats.documents, stats.bytesSent + stats.bytesReceived);
        partitions.update();
      }, (e: unknown) => {
        link.roundFinished(plan, 'failed');
        traced.failed(e);
        log(`anti-entropy with ${peerId}: ${String(e)}`);
      });
    };
    const antiEntropy = new AntiEntropy(config.nodeId, store, sha256, traffic, nextEventLoopTurn);
    let replicator: Replicator | undefined = undefined;
    replicator = new Replicator({
      selfId: config.nodeId,
      clusterId: config.clusterId,
      incarnation,
      // A witness holds no documents: it neither pushes nor pulls them (it only votes).
      peers: config.role === 'witness' ? [] : config.peers,
      store,
      faults,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      credentials: transport.peers,
      onPeerConnected: (peerId) => roundWith(peerId),
    });
    function linkTo(peerId: string): PeerLink | undefined {
      return replicator?.links.find((l) => l.peerId === peerId);
    }
    function roundWith(peerId: string): void {
      const link = linkTo(peerId);
      if (link !== undefined && link.connected) runRound(link);
    }
    antiEntropy.onRoundWanted = roundWith;
    antiEntropy.onPulled = (peerId, docIds) => linkTo(peerId)?.peerPulled(docIds);
    // Voters of the authoritative log: every master and witness (replicas hold documents only).
    const voters = [
      ...(config.role === 'replica' ? [] : [{ id: config.nodeId, address: config.listen }]),
      ...config.peers.filter((p) => p.role !== 'replica').map((p) => ({ id: p.id, address: p.address })),
    ];
    const raftEngine = config.role === 'replica' ? undefined : await openRaftLogStore(config.dataDir, engine, log);
    const authority = raftEngine === undefined ? undefined : new AuthorityNode({
      selfId: config.nodeId,
      clusterId: config.clusterId,
      voters,
      engine: raftEngine,
      walDir: path.join(config.dataDir, 'raft', 'wal'),
      faults,
      tickMs: config.raftTickMs,
      electionTimeoutTicks: config.electionTimeoutTicks,
      snapshotEveryEntries: config.raftSnapshotEntries ?? 10_000,
      quotaBytes: config.kvQuotaBytes,
      credentials: transport.peers,
      log,
      otherReachable: () => replicator?.links.filter((l) => l.reachable).map((l) => l.peerId) ?? [],
    });
    const heapLimit = getHeapStatistics().heap_size_limit;
    if (authority !== undefined && authority.quotaBytes > heapLimit / 2) {
      log(`warning: the KV quota (${authority.quotaBytes} bytes) is more than half of this process's heap limit (${heapLimit} bytes), and the store lives on the heap (installing a snapshot briefly holds two): lower --kv-quota-bytes or raise the limit (--max-old-space-size)`);
    }
    const masters = [...(config.role === 'master' ? [config.nodeId] : []), ...config.peers.filter((p) => p.role === 'master').map((p) => p.id)].sort();
    const voterIds = voters.map((v) => v.id);
    const documents = new DocumentNode(config.nodeId, config.role, store, replicator, antiEntropy, traffic, masters);
    const startedAt = Date.now();
    let address = config.listen;
    const authorizer = policy === undefined ? undefined : new CallAuthorizer({
      policy: () => policy.current,
      peerHosts: peerHostsOf(config.peers.map((p) => p.address)),
      peerIds: config.peers.map((p) => p.id),
      leaseKeys: (id) => {
        try {
          return authority === undefined ? undefined : [...authority.sm.lease(id).keys];
        } catch {
          return undefined; // no such lease: the call itself says so
        }
      },
    });
    /** A client service, its calls checked against the access policy when there is one. */
    const guarded = <S extends UntypedServiceImplementation>(definition: ServiceDefinition, implementation: S): S =>
      authorizer === undefined ? implementation : authorizer.wrap(definition, implementation);
    const grpc = await startGrpcServer(config.listen, [
      { definition: documentServiceDefinition, implementation: guarded(documentServiceDefinition, documentService(documents, authorizer)), name: 'concord.v1.DocumentService' },
      { definition: peerServiceDefinition, implementation: peerService(documents, {
        faults, clusterId: config.clusterId, incarnation, log,
        onPeerHello: (peerId) => linkTo(peerId)?.redialNow(),
        onPeerMessage: (peerId) => linkTo(peerId)?.heardOnPeerStream(),
        owedTo: (peerId) => linkTo(peerId)?.owedList(),
      }), name: 'concord.v1.PeerService' },
      {
        definition: AdminServiceService,
        implementation: guarded(AdminServiceService, adminService(documents, {
          address: () => address, clusterId: config.clusterId, incarnation, startedAt, clientId, faults, ledger, adminToken: config.adminToken, authority, peerIds: config.peers.map((p) => p.id),
          ...(tlsFiles === undefined ? {} : { certificate: () => tlsFiles.current.leaf }),
          ...(policy === undefined || authorizer === undefined ? {} : { authorization: { policy, authorizer } }),
        })),
        name: 'concord.v1.AdminService',
      },
      // A replica is not a voter: its KV API says so and names the voters (not UNIMPLEMENTED).
      ...(authority === undefined ? [{
        definition: KvServiceService,
        implementation: refusingService(KvServiceService, () => new DomainError('read-only', `node ${config.nodeId} is a ${config.role}: it holds documents only and is not a voter of the authoritative log; send KV requests to a voter (${voterIds.join(', ')})`, { voters: voterIds.join(','), ...notApplied })),
        name: 'concord.v1.KvService',
      }] : [
        { definition: RaftServiceService, implementation: raftService(authority), name: 'concord.v1.RaftService' },
        {
          definition: kvServiceDefinition,
          implementation: guarded(kvServiceDefinition, kvService(authority, { nodeId: config.nodeId, voterAddresses: new Map(voters.map((v) => [v.id, v.address])), faults, watchQueueMax: config.watchQueueMax, credentials: transport.peers, authorizer })),
          name: 'concord.v1.KvService',
        },
      ]),
    ], { credentials: transport.server, interceptors: transport.interceptors });
    address = `${config.listen.slice(0, config.listen.lastIndexOf(':'))}:${grpc.port}`;
    const node = new ConcordNode(config, engine, documents, grpc, address, authority, raftEngine);
    node.telemetryStops.push(observeReplication(replicator.links), () => partitions.close());
    if (tlsFiles !== undefined) node.telemetryStops.push(observeCertificate(() => tlsFiles.current.leaf));
    replicator.start();
    authority?.start();
    const schedule = new AntiEntropySchedule();
    let droppedBefore = 0;
    let heldOffLastTick = false;
    node.timers.push(setInterval(() => {
      // After a storage failure reads throw too, and the process is about to exit (main.ts).
      if (node.storageFailure !== undefined) return;
      const dropped = replicator.links.reduce((n, l) => n + l.droppedUpdates, 0);
      const healthy = dropped === droppedBefore && replicator.links.every((l) => l.reachable);
      droppedBefore = dropped;
      // While some link is down, keep the digest folded in, so the rounds of the heal start
      // comparing at once instead of first hashing every document changed during the cut. Not
      // while rounds run (the heal itself): a digest round folds it in when it starts anyway.
      if (!healthy && antiEntropy.roundsRunning === 0) antiEntropy.refresh();
      if (!schedule.tick(Date.now(), healthy)) return;
      // The safety net waits while rounds run (a heal): with the other peers it would mostly
      // sync what those rounds are delivering at that moment, and pay for it twice.
      // Nor for one tick after a reconnect round completed (a heal's): the other nodes' rounds
      // are still delivering, and it would fetch that a second time. Only one tick, so a link
      // that keeps flapping does not hold the safety net off for the others.
      if (antiEntropy.roundsRunning > 0) return;
      const afterHeal = Date.now() - connectRoundDoneAt < config.antiEntropyIntervalMs;
      if (afterHeal && !heldOffLastTick) {
        heldOffLastTick = true;
        return;
      }
      heldOffLastTick = false;
      for (const link of replicator.links) if (link.connected) runRound(link, true);
    }, config.antiEntropyIntervalMs));
    if (tlsFiles !== undefined) node.timers.push(setInterval(() => tlsFiles.poll(), config.tlsReloadIntervalMs ?? tlsReloadIntervalMsDefault));
    if (policy !== undefined) {
      node.timers.push(setInterval(() => {
        // Watches opened under the old policy are checked again: one it no longer allows ends.
        if (!policy.poll()) return;
        const ended = authorizer?.recheck() ?? 0;
        if (ended > 0) log(`access policy: ended ${ended} watch${ended === 1 ? '' : 'es'} the new policy no longer allows`);
      }, config.tlsReloadIntervalMs ?? tlsReloadIntervalMsDefault));
    }
    node.timers.push(setInterval(() => {
      for (const link of replicator.links) ledger.observe(link.peerId, link.reachable, faults.isCut(link.peerId));
      partitions.update();
    }, config.heartbeatIntervalMs));
    // An injected cut opens its episode at once, not at the next failure-detector tick.
    faults.onChange((peerId, fault) => {
      if (fault.cut) ledger.observe(peerId, false, true);
    });
    return node;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.forEach(clearInterval);
    this.telemetryStops.forEach((stop) => stop());
    this.documents.replicator.stop();
    this.authority?.stop();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.grpc.server.forceShutdown();
        resolve();
      }, 1000);
      this.grpc.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await this.documents.store.close();
    await this.engine.close();
    await this.raftEngine?.close();
  }
}

/**
 * The authoritative (Raft) log's own LMDB environment, `<data dir>/raft`, with the log moved
 * there from the documents' store of a data directory from before (moveRaftLog). Apart, the
 * log's commits do not pay for the documents' churn: after the convergent benchmark had written
 * its documents, a log commit sharing their store took 7-15 ms instead of 1-3 ms.
 */
async function openRaftLogStore(dataDir: string, documents: StorageEngine, log: (msg: string) => void): Promise<StorageEngine> {
  const dir = path.join(dataDir, 'raft');
  fs.mkdirSync(dir, { recursive: true });
  const raft = LmdbEngine.open(dir);
  const moved = await moveRaftLog(documents, raft);
  if (moved > 0) log(`moved the authoritative log (${moved} records) into its own store, ${dir}`);
  return raft;
}

function nextIncarnation(engine: StorageEngine): bigint {
  const raw = engine.get(nodeKey('incarnation'));
  return raw === undefined ? 1n : BigInt(new TextDecoder().decode(raw)) + 1n;
}
