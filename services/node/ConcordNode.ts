import { createHash, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import { AdminServiceService } from '../../proto/gen/concord/v1/admin';
import { DocumentServiceService } from '../../proto/gen/concord/v1/documents';
import { PeerServiceService } from '../../proto/gen/concord/v1/peer';
import { adminService } from '../rpc/adminService';
import { documentService } from '../rpc/documentService';
import { startGrpcServer, StartedServer } from '../rpc/grpcServer';
import { peerService } from '../rpc/peerService';
import { LmdbEngine } from '../storage/LmdbEngine';
import { StorageEngine } from '../storage/StorageEngine';
import { AntiEntropy } from './AntiEntropy';
import { grpcAntiEntropyPeer } from './grpcAntiEntropyPeer';
import { DocumentNode } from './DocumentNode';
import { DocumentStore } from './DocumentStore';
import { NodeConfig } from './NodeConfig';
import { Replicator } from './Replicator';
import { TrafficStats } from './TrafficStats';
import { nodeKey } from './storageKeys';

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

/**
 * One Concord node process: storage, the convergent path (documents, replication,
 * anti-entropy) and the gRPC server, wired together. `start` resolves once it serves.
 */
export class ConcordNode {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  private constructor(
    readonly config: NodeConfig,
    readonly engine: StorageEngine,
    readonly documents: DocumentNode,
    readonly grpc: StartedServer,
    readonly address: string,
    private readonly log: (msg: string) => void,
  ) {}

  static async start(config: NodeConfig, log: (msg: string) => void = () => undefined): Promise<ConcordNode> {
    fs.mkdirSync(config.dataDir, { recursive: true });
    const engine = LmdbEngine.open(config.dataDir);
    const incarnation = nextIncarnation(engine);
    await engine.write([{ type: 'put', key: nodeKey('incarnation'), value: new TextEncoder().encode(String(incarnation)) }]);
    // A fresh Yjs client id on every start: reusing one after a restart could reuse clocks.
    const clientId = randomInt(1, 2 ** 32 - 1);
    const store = new DocumentStore({ engine, clientId, hash: sha256 });
    store.load();
    const traffic = new TrafficStats();
    const antiEntropy = new AntiEntropy(config.nodeId, store, sha256, traffic);
    let replicator: Replicator | undefined = undefined;
    replicator = new Replicator({
      selfId: config.nodeId,
      clusterId: config.clusterId,
      incarnation,
      peers: config.peers,
      store,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      onPeerConnected: (peerId) => {
        const link = replicator?.links.find((l) => l.peerId === peerId);
        if (link !== undefined) antiEntropy.round(peerId, grpcAntiEntropyPeer(link.client, config.nodeId)).catch((e: unknown) => log(`anti-entropy with ${peerId}: ${String(e)}`));
      },
    });
    const documents = new DocumentNode(config.nodeId, config.role, store, replicator, antiEntropy, traffic);
    const startedAt = Date.now();
    let address = config.listen;
    const grpc = await startGrpcServer(config.listen, [
      { definition: DocumentServiceService, implementation: documentService(documents), name: 'concord.v1.DocumentService' },
      { definition: PeerServiceService, implementation: peerService(documents, { clusterId: config.clusterId, incarnation, log }), name: 'concord.v1.PeerService' },
      {
        definition: AdminServiceService,
        implementation: adminService(documents, { address: () => address, clusterId: config.clusterId, incarnation, startedAt, clientId }),
        name: 'concord.v1.AdminService',
      },
    ]);
    address = `${config.listen.slice(0, config.listen.lastIndexOf(':'))}:${grpc.port}`;
    const node = new ConcordNode(config, engine, documents, grpc, address, log);
    replicator.start();
    node.timers.push(setInterval(() => node.antiEntropyTick(), config.antiEntropyIntervalMs));
    return node;
  }

  private antiEntropyTick(): void {
    for (const link of this.documents.replicator.links) {
      if (!link.connected) continue;
      this.documents.antiEntropy.round(link.peerId, grpcAntiEntropyPeer(link.client, this.config.nodeId)).catch((e: unknown) => this.log(`anti-entropy with ${link.peerId}: ${String(e)}`));
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.forEach(clearInterval);
    this.documents.replicator.stop();
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
    await this.engine.close();
  }
}

function nextIncarnation(engine: StorageEngine): bigint {
  const raw = engine.get(nodeKey('incarnation'));
  return raw === undefined ? 1n : BigInt(new TextDecoder().decode(raw)) + 1n;
}
