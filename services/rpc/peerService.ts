import { ServerDuplexStream } from '@grpc/grpc-js';
import { PeerMessage, PeerServiceServer } from '../../proto/gen/concord/v1/peer';
import { parseDocumentId } from '../core/crdt/documentId';
import { DomainError } from '../core/errors/DomainError';
import { DocumentNode } from '../node/DocumentNode';
import { LinkFaults } from '../node/LinkFaults';
import { unary } from './handlers';
import { ServerUnaryCall, status } from '@grpc/grpc-js';
import { traceReplicationApply } from '../telemetry/replicationTelemetry';
import { nothingOwed, OwedList } from '../node/OwedDocuments';
import { nodeIdHeader } from '../node/peerChannelOptions';

export interface PeerServiceOptions {
  readonly faults: LinkFaults;
  readonly clusterId: string;
  readonly incarnation: bigint;
  readonly log: (msg: string) => void;
  /** A peer opened its replication stream to this node (it is up, and reaches us). */
  readonly onPeerHello?: (peerId: string) => void;
  /**
   * A message (a batch, a heartbeat) arrived on a peer's replication stream to this node, its
   * link not cut: the peer is alive and reaches us (see PeerLink.heardOnPeerStream).
   */
  readonly onPeerMessage?: (peerId: string) => void;
  /** What this node owes a peer (named in the hello it answers that peer with). */
  readonly owedTo?: (peerId: string) => OwedList | undefined;
}

/** The receiving side of replication and anti-entropy. */
export function peerService(node: DocumentNode, opts: PeerServiceOptions): PeerServiceServer {
  return {
    replicate: (call: ServerDuplexStream<PeerMessage, PeerMessage>) => {
      if (node.role === 'witness') {
        call.emit('error', { code: status.FAILED_PRECONDITION, details: `node ${node.nodeId} is a witness and holds no documents` });
        return;
      }
      let peerId = '';
      // Replies get the same injected delay as everything else this node sends to the peer.
      const reply = (msg: PeerMessage): void => {
        const delayMs = opts.faults.get(peerId).delayMs;
        if (delayMs <= 0) {
          if (!call.writableEnded) call.write(msg);
        } else {
          setTimeout(() => {
            if (!call.writableEnded && !call.destroyed) call.write(msg);
          }, delayMs);
        }
      };
      const unsubscribe = opts.faults.onChange((p, fault) => {
        if (p === peerId && fault.cut) call.emit('error', { code: status.UNAVAILABLE, details: `link to ${peerId} is cut` });
      });
      call.on('close', unsubscribe);
      call.on('cancelled', unsubscribe);
      // Batches are applied strictly in order so every ack covers all earlier sequence numbers.
      let chain: Promise<void> = Promise.resolve();
      call.on('data', (msg: PeerMessage) => {
        const body = msg.body;
        if (body === undefined) return;
        switch (body.$case) {
          case 'hello':
            if (body.value.clusterId !== opts.clusterId) {
              call.emit('error', { code: 9, details: `cluster id ${body.value.clusterId} is not ${opts.clusterId}` });
              return;
            }
            peerId = body.value.nodeId;
            if (opts.faults.isCut(peerId)) {
              call.emit('error', { code: status.UNAVAILABLE, details: `link to ${peerId} is cut` });
              return;
            }
            {
              const owed = opts.owedTo?.(peerId) ?? nothingOwed;
              reply({ body: { $case: 'hello', value: { nodeId: node.nodeId, clusterId: opts.clusterId, incarnation: opts.incarnation, owedDocuments: [...owed.documents], owedComplete: owed.complete } } });
            }
            opts.onPeerHello?.(peerId);
            return;
          case 'batch': {
            if (opts.faults.isCut(peerId)) return;
            if (peerId !== '') opts.onPeerMessage?.(peerId);
            const updates = body.value.updates;
            for (const u of updates) node.traffic.pushBytesReceived += u.update.length;
            chain = chain.then(async () => {
              let last = 0n;
              await Promise.all(updates.map(async (u) => {
                try {
                  await traceReplicationApply(node.nodeId, peerId, u, () => node.store.applyUpdate(parseDocumentId(u.documentId), u.update, `remote:${peerId}`));
                } catch (err) {
                  // A bad update from a peer is logged and skipped; resending it would not help.
                  if (err instanceof DomainError && err.kind !== 'internal' && err.kind !== 'unavailable') {
                    opts.log(`dropped update ${u.seq} from ${peerId} for ${u.documentId}: ${err.message}`);
                  } else throw err;
                }
                if (u.seq > last) last = u.seq;
              }));
              reply({ body: { $case: 'ack', value: { durableSeq: last } } });
            }).catch((err: unknown) => {
              opts.log(`replication from ${peerId} failed: ${String(err)}`);
              call.emit('error', { code: 14, details: 'storage failed' });
            });
            return;
          }
          case 'heartbeat':
            if (peerId !== '' && !opts.faults.isCut(peerId)) opts.onPeerMessage?.(peerId);
            reply({ body: { $case: 'heartbeat', value: { sentAtMs: BigInt(Date.now()) } } });
            return;
          case 'ack':
            return;
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },

    digest: unary(async (req, call) => {
      refuseIfCut(call, opts.faults);
      node.assertHoldsDocuments();
      return node.antiEntropy.answerDigest(req);
    }),
    sync: unary(async (req, call) => {
      refuseIfCut(call, opts.faults);
      node.assertHoldsDocuments();
      return node.antiEntropy.answerSyncInTurn(req);
    }),
    pushDiff: unary(async (req, call) => {
      refuseIfCut(call, opts.faults);
      node.assertHoldsDocuments();
      return node.antiEntropy.acceptPushDiff(req);
    }),
  };
}

/** Unary peer calls name their sender in metadata; a cut link refuses them. */
function refuseIfCut<Req, Res>(call: ServerUnaryCall<Req, Res>, faults: LinkFaults): void {
  const from = call.metadata.get(nodeIdHeader)[0];
  if (typeof from === 'string' && faults.isCut(from)) throw new DomainError('unavailable', `link to ${from} is cut`);
}
