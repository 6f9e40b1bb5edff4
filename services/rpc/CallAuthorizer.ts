import {
  Metadata,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { permissionDeniedPrefix } from '../../clients/client/serviceError';
import { certificateNamesHost } from '../../clients/client/tlsFiles';
import { AccessPolicy, Need } from '../core/access/AccessPolicy';
import { DomainError } from '../core/errors/DomainError';
import { toServiceError } from './errorTable';
import { LeaseKeys, requiredAccess } from './requiredAccess';

/** What the checks read of a call (any kind of call has it). */
export type CallContext = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'metadata'>;

/** Metadata a node sets on a call it forwards (a KV write to the leader): the user it acts for. */
export const forwardedForHeader = 'concord-forwarded-for';

/** Who a call acts for: the user the policy checks, and the node that forwarded it, if one did. */
export interface CallIdentity {
  readonly user: string;
  readonly via?: string;
}

export interface CallAuthorizerOptions {
  /** The policy in force (it may be reloaded between calls). */
  readonly policy: () => AccessPolicy;
  /** Hosts of this node's peers: a caller whose certificate names one is a node, and may forward for a user. */
  readonly peerHosts: readonly string[];
  readonly leaseKeys: LeaseKeys;
}

type PeerCertificate = { raw?: Buffer; subject?: Record<string, string | string[] | undefined> };

/**
 * Checks every call of the client services against the access policy (see requiredAccess for
 * what each method needs): the user is the common name of the caller's client certificate, as
 * etcd's --client-cert-auth takes it. A node that forwards a call (a KV write to the leader)
 * names the user it acts for in `concord-forwarded-for`; that header counts only from a caller
 * whose certificate names one of this node's peers, as a node's own must (anyone else's header
 * is ignored, and the call is theirs). A refusal is a DomainError ('permission-denied'), mapped
 * by the error table like any other.
 */
export class CallAuthorizer {
  private readonly peers = new Map<string, boolean>();

  constructor(private readonly opts: CallAuthorizerOptions) {}

  identity(call: CallContext): CallIdentity {
    const cert = call.getAuthContext().sslPeerCertificate as PeerCertificate | undefined;
    const own = commonName(cert);
    const forwarded = call.metadata.get(forwardedForHeader)[0];
    if (typeof forwarded === 'string' && cert?.raw !== undefined && this.isPeer(cert.raw)) return { user: decodeUser(forwarded), via: own };
    return { user: own };
  }

  /** Throws 'permission-denied' unless the call's user may do all of `needs`. */
  check(identity: CallIdentity, needs: readonly Need[]): void {
    const why = this.opts.policy().refusal(identity.user, needs);
    if (why === undefined) return;
    throw new DomainError('permission-denied', `${permissionDeniedPrefix}${why}${identity.via === undefined ? '' : ` (forwarded by ${JSON.stringify(identity.via)})`}`);
  }

  /**
   * The service with its unary and server-streaming handlers checked before they run (a
   * refused call never reaches them). Streams of requests pass through: their handlers check
   * each message (see perMessage).
   */
  wrap<S extends UntypedServiceImplementation>(definition: ServiceDefinition, implementation: S): S {
    const out: UntypedServiceImplementation = { ...implementation };
    for (const [name, method] of Object.entries(definition)) {
      const handler = implementation[name];
      if (handler === undefined || method.requestStream) continue;
      const needsOf = (req: unknown): Need[] | 'open' | 'per-message' => requiredAccess(method.path, req, this.opts.leaseKeys);
      const refusal = (call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): Partial<ServiceError> | undefined => {
        const needs = needsOf(call.request);
        if (needs === 'open') return undefined;
        try {
          // A method that takes one request but is checked per message has no rule: refuse.
          if (needs === 'per-message') throw new DomainError('permission-denied', `${permissionDeniedPrefix}${method.path} has no access rule`);
          this.check(this.identity(call), needs);
          return undefined;
        } catch (err) {
          return toServiceError(err);
        }
      };
      if (!method.responseStream) {
        const unaryHandler = handler as handleUnaryCall<unknown, unknown>;
        out[name] = ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
          const denied = refusal(call);
          if (denied === undefined) unaryHandler(call, callback);
          else callback(denied as ServiceError);
        }) as handleUnaryCall<unknown, unknown>;
      } else {
        const streamHandler = handler as handleServerStreamingCall<unknown, unknown>;
        out[name] = ((call: ServerWritableStream<unknown, unknown>): void => {
          const denied = refusal(call);
          if (denied === undefined) streamHandler(call);
          else call.emit('error', denied);
        }) as handleServerStreamingCall<unknown, unknown>;
      }
    }
    return out as S;
  }

  /** For a stream of requests: checks each request as the caller's user (looked up once per stream). */
  perMessage(call: CallContext): (needs: readonly Need[]) => void {
    const identity = this.identity(call);
    return (needs) => this.check(identity, needs);
  }

  private isPeer(raw: Buffer): boolean {
    const key = raw.toString('base64');
    let ok = this.peers.get(key);
    if (ok === undefined) {
      ok = certificateNamesHost(new X509Certificate(raw), this.opts.peerHosts);
      if (this.peers.size > 1000) this.peers.clear();
      this.peers.set(key, ok);
    }
    return ok;
  }
}

/** The common name of the caller's client certificate ('' without a certificate or a name). */
export function callerCommonName(call: Pick<CallContext, 'getAuthContext'>): string {
  return commonName(call.getAuthContext().sslPeerCertificate as PeerCertificate | undefined);
}

function commonName(cert: PeerCertificate | undefined): string {
  const cn = cert?.subject?.CN;
  return (Array.isArray(cn) ? cn[0] : cn) ?? '';
}

/** Sets the user a forwarded call acts for (percent-encoded: metadata values are ASCII, names need not be). */
export function setForwardedFor(md: Metadata, user: string): void {
  md.set(forwardedForHeader, encodeURIComponent(user));
}

function decodeUser(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // not our encoding: a name nobody holds, so it is refused as such
  }
}
