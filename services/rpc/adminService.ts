import { ServerUnaryCall } from '@grpc/grpc-js';
import { timingSafeEqual, type X509Certificate } from 'node:crypto';
import { AdminServiceServer, PartitionEpisode, StatusResponse } from '../../proto/gen/concord/v1/admin';
import { DomainError, invalidArgument } from '../core/errors/DomainError';
import { DocumentNode } from '../node/DocumentNode';
import { LinkFaults } from '../node/LinkFaults';
import { Episode, PartitionLedger } from '../node/PartitionLedger';
import { unary } from './handlers';
import { AuthorityNode } from '../node/authority/AuthorityNode';
import { oneLine } from '../../clients/client/tlsFiles';
import { AuthorityStatus, AuthorizationStatus, TlsStatus, WhoAmIResponse } from '../../proto/gen/concord/v1/admin';
import type { ReloadingPolicy } from '../node/ReloadingPolicy';
import { callerCommonName, type CallAuthorizer } from './CallAuthorizer';

export interface AdminInfo {
  readonly address: () => string;
  readonly clusterId: string;
  readonly incarnation: bigint;
  readonly startedAt: number;
  readonly clientId: number;
  readonly faults: LinkFaults;
  readonly ledger: PartitionLedger;
  /** The cluster's admin credential; undefined refuses every guarded call. */
  readonly adminToken: string | undefined;
  /** Every configured peer (document links and voters alike): the links faults can target. */
  readonly peerIds: readonly string[];
  /** The authoritative log, on voters (masters and witnesses). */
  readonly authority: AuthorityNode | undefined;
  /** The certificate served now, on a mutual-TLS node. */
  readonly certificate?: () => X509Certificate;
  /** The access policy this node checks calls against (--authz-file), and its checks. */
  readonly authorization?: { readonly policy: ReloadingPolicy; readonly authorizer: CallAuthorizer };
}

export const delayMsMax = 60_000;

/**
 * Operator view and fault injection. Status and WhoAmI are open; changing links needs the admin
 * token (and, with an access policy, admin write: see requiredAccess).
 */
export function adminService(node: DocumentNode, info: AdminInfo): AdminServiceServer {
  return {
    status: unary(async (_req, call): Promise<StatusResponse> => ({
      nodeId: node.nodeId,
      role: node.role,
      address: info.address(),
      clusterId: info.clusterId,
      incarnation: info.incarnation,
      documents: BigInt(node.store.size),
      uptimeMs: BigInt(Date.now() - info.startedAt),
      clientId: BigInt(info.clientId),
      traffic: {
        pushBytesReceived: BigInt(node.traffic.pushBytesReceived),
        antiEntropyBytesReceived: BigInt(node.traffic.antiEntropyBytesReceived),
        antiEntropyBytesSent: BigInt(node.traffic.antiEntropyBytesSent),
        antiEntropyRounds: BigInt(node.traffic.antiEntropyRounds),
        antiEntropyDirectedRounds: BigInt(node.traffic.antiEntropyDirectedRounds),
        catchUpBytesReceived: BigInt(node.traffic.catchUpBytesReceived),
      },
      peers: node.replicator.links.map((l) => ({
        nodeId: l.peerId,
        address: l.address,
        connected: l.connected,
        reachable: l.reachable,
        cut: info.faults.get(l.peerId).cut,
        delayMs: info.faults.get(l.peerId).delayMs,
        backlogUpdates: BigInt(l.backlog.updates),
        backlogBytes: BigInt(l.backlog.bytes),
        lastHeardMsAgo: BigInt(Math.max(0, l.lastHeardMsAgo)),
        owedDocuments: BigInt(l.owedDocuments),
        owedComplete: l.owedComplete,
      })),
      recentEpisodes: info.ledger.recent(5).map(toEpisodeMessage),
      authority: info.authority === undefined ? undefined : authorityStatus(info.authority),
      tls: info.certificate === undefined ? undefined : tlsStatus(info.certificate()),
      authorization: info.authorization === undefined ? undefined : authorizationStatus(info.authorization, call),
    })),

    whoAmI: unary(async (_req, call): Promise<WhoAmIResponse> => {
      const a = info.authorization;
      if (a === undefined) return { authorization: false, user: callerCommonName(call), known: false, roles: [], permissions: [], forwardedBy: '' };
      const user = a.authorizer.identity(call);
      const policy = a.policy.current;
      const roles = policy.rolesOf(user.user);
      return {
        authorization: true,
        user: user.user,
        known: roles !== undefined,
        roles: [...(roles ?? [])],
        permissions: policy.grantsOf(user.user).map((g) => g.text),
        forwardedBy: user.via ?? '',
      };
    }),

    setLinkFaults: unary(async (req, call) => {
      requireAdmin(call, info.adminToken);
      const known = new Set(info.peerIds);
      for (const f of req.faults) {
        if (!known.has(f.peerId)) throw new DomainError('not-found', `no peer ${f.peerId} on node ${node.nodeId}`);
        if (f.delayMs > delayMsMax) throw invalidArgument(`delay is at most ${delayMsMax} ms`);
      }
      if (req.replace) {
        for (const peerId of info.faults.all().keys()) info.faults.set(peerId, { cut: false, delayMs: 0 });
      }
      for (const f of req.faults) info.faults.set(f.peerId, { cut: f.cut, delayMs: f.delayMs });
      return { faults: [...info.faults.all()].map(([peerId, f]) => ({ peerId, cut: f.cut, delayMs: f.delayMs })) };
    }),

    ledger: unary(async (req) => ({ episodes: info.ledger.recent(req.limit === 0 ? 20 : Math.min(req.limit, 200)).map(toEpisodeMessage) })),
  };
}

/**
 * The policy in force. Status is open to every caller, and why an edit was refused may quote the
 * policy (user and role names): that much only for a caller with admin read.
 */
function authorizationStatus(a: NonNullable<AdminInfo['authorization']>, call: ServerUnaryCall<unknown, unknown>): AuthorizationStatus {
  const p = a.policy;
  const admin = a.authorizer.refusal(a.authorizer.identity(call), [{ resource: 'admin', access: 'read' }]) === undefined;
  const lastError = p.lastError === '' || admin ? p.lastError : 'a change of the policy file was refused (the node\'s log, or status for a caller with admin read, says why)';
  return { policyFile: p.file, users: p.current.userCount, roles: p.current.roles.size, loadedAtMs: BigInt(p.loadedAtMs), lastError };
}

function requireAdmin<Req, Res>(call: ServerUnaryCall<Req, Res>, token: string | undefined): void {
  if (token === undefined) {
    throw new DomainError('unauthenticated', 'this node has no admin credential configured (set CONCORD_ADMIN_TOKEN when starting it)');
  }
  const header = call.metadata.get('authorization')[0];
  const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new DomainError('unauthenticated', 'admin credential missing or wrong (metadata authorization: Bearer <token>)');
  }
}

function toEpisodeMessage(e: Episode): PartitionEpisode {
  return {
    id: e.id,
    peerId: e.peerId,
    cause: e.cause,
    startedAtMs: BigInt(e.startedAtMs),
    healedAtMs: BigInt(e.healedAtMs),
    convergedAtMs: BigInt(e.convergedAtMs),
    localUpdates: BigInt(e.localUpdates),
    remoteUpdates: BigInt(e.remoteUpdates),
    documentsDiverged: BigInt(e.documents.size),
    documents: [...e.documents].slice(0, 20),
    documentsExchanged: BigInt(e.documentsExchanged),
    bytesExchanged: BigInt(e.bytesExchanged),
  };
}

function tlsStatus(cert: X509Certificate): TlsStatus {
  return { subject: oneLine(cert.subject), serial: cert.serialNumber, subjectAltNames: cert.subjectAltName ?? '', notAfterMs: BigInt(Date.parse(cert.validTo)) };
}

function authorityStatus(auth: AuthorityNode): AuthorityStatus {
  const st = auth.status();
  const progress = new Map((st.progress ?? []).map((p) => [p.id as string, p]));
  return {
    term: BigInt(st.term),
    leaderId: st.leader ?? '',
    role: st.role,
    commit: BigInt(st.commit),
    applied: BigInt(auth.sm.appliedIndex),
    lastIndex: BigInt(st.lastIndex),
    revision: BigInt(auth.sm.store.revision),
    voters: st.config.voters.map((id) => {
      const p = progress.get(id);
      return { nodeId: id, match: BigInt(p?.match ?? 0), next: BigInt(p?.next ?? 0), state: p?.state ?? '' };
    }),
    reachableVoters: auth.reachableVoters(),
    snapshotIndex: BigInt(auth.storage.snapshot().index),
    firstIndex: BigInt(auth.storage.firstIndex()),
    kvLogFormat: auth.kvLogFormat,
    kvBytes: BigInt(auth.sm.bytes),
    kvQuotaBytes: BigInt(auth.quotaBytes),
  };
}
