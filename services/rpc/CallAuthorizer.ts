import {
  Metadata,
  ServerDuplexStream,
  type handleBidiStreamingCall,
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
import { isNodeCertificate } from '../../clients/client/tlsFiles';
import { AccessPolicy, Need } from '../core/access/AccessPolicy';
import { DomainError, notApplied } from '../core/errors/DomainError';
import { toServiceError } from './errorTable';
import { LeaseKeys, requiredAccess } from './requiredAccess';

/** What the checks read of a call (any kind of call has it). */
export type CallContext = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'metadata'>;

/** Metadata a node sets on a call it forwards (a KV write to the leader): the user it acts for. */
export const forwardedForHeader = 'concord-forwarded-for';
/** Metadata naming the node that forwarded a call (kvService sets it with forwardedForHeader). */
export const forwardedByHeader = 'concord-forwarded-by';

/** The calls a follower forwards to the leader (kvService's writes and lease clocks): the only ones a node may make for a user. */
const forwardable = new Set(['Put', 'DeleteRange', 'Txn', 'Compact', 'LeaseGrant', 'LeaseRevoke', 'LeaseKeepAlive', 'LeaseTimeToLive', 'LeaseLeases', 'CounterAdd'].map((m) => `/concord.v1.KvService/${m}`));

/** Who a call acts for: the user the policy checks, and the node that forwarded it, if one did. */
export interface CallIdentity {
  readonly user: string;
  readonly via?: string;
}

export interface CallAuthorizerOptions {
  /** The policy in force (it may be reloaded between calls: see recheck). */
  readonly policy: () => AccessPolicy;
  /** Hosts of this node's peers: a node's certificate names one (isNodeCertificate). */
  readonly peerHosts: readonly string[];
  /** Ids of this node's peers: a forwarded call names one as its forwarder. */
  readonly peerIds: readonly string[];
  readonly leaseKeys: LeaseKeys;
}

type PeerCertificate = { raw?: Buffer; subject?: Record<string, string | string[] | undefined> };

/** A stream allowed when it opened, checked again when the policy changes. */
interface HeldStream {
  readonly identity: CallIdentity;
  readonly needs: readonly Need[];
  readonly end: (err: DomainError) => void;
}

/**
 * Checks every call of the client services against the access policy (see requiredAccess for
 * what each method needs): the user is the common name of the caller's client certificate, as
 * etcd's --client-cert-auth takes it (a certificate with several is nobody). A follower that
 * forwards a KV write to the leader names the user it acts for in `concord-forwarded-for`; that
 * header counts only on those writes, from a caller with a node's certificate
 * (isNodeCertificate) that names a peer in `concord-forwarded-by`: anyone else's is ignored, and
 * the call is theirs. A refusal is a DomainError ('permission-denied'), mapped by the error table
 * like any other. Streams that stay open (watches) are checked again whenever the policy changes
 * (recheck): one it no longer allows ends with the refusal.
 */
export class CallAuthorizer {
  private readonly peers = new Map<string, boolean>();
  private readonly held = new Set<HeldStream>();

  constructor(private readonly opts: CallAuthorizerOptions) {}

  /** Who `call` acts for; `path` is its method (forwarding counts only on forwardable ones). */
  identity(call: CallContext, path = ''): CallIdentity {
    const cert = call.getAuthContext().sslPeerCertificate as PeerCertificate | undefined;
    const own = commonName(cert);
    if (!forwardable.has(path)) return { user: own };
    const forwarded = call.metadata.get(forwardedForHeader)[0];
    const by = call.metadata.get(forwardedByHeader)[0];
    if (typeof forwarded === 'string' && typeof by === 'string' && this.opts.peerIds.includes(by) && cert?.raw !== undefined && this.isNode(cert.raw)) {
      return { user: decodeUser(forwarded), via: by };
    }
    return { user: own };
  }

  /** Undefined when the user may do all of `needs`, else the refusal. */
  refusal(identity: CallIdentity, needs: readonly Need[]): DomainError | undefined {
    const why = this.opts.policy().refusal(identity.user, needs);
    if (why === undefined) return undefined;
    return new DomainError('permission-denied', `${permissionDeniedPrefix}${why}${identity.via === undefined ? '' : ` (forwarded by ${identity.via})`}`, notApplied);
  }

  /** Throws 'permission-denied' unless the call's user may do all of `needs`. */
  check(identity: CallIdentity, needs: readonly Need[]): void {
    const refused = this.refusal(identity, needs);
    if (refused !== undefined) throw refused;
  }

  /**
   * Keeps an allowed stream (a watch) under the policy: when a reloaded policy no longer
   * allows it, `end` gets the refusal (once). Returns the release, for when the stream ends.
   */
  hold(identity: CallIdentity, needs: readonly Need[], end: (err: DomainError) => void): () => void {
    const h: HeldStream = { identity, needs, end };
    this.held.add(h);
    return () => this.held.delete(h);
  }

  /** Checks every held stream against the policy in force (after a reload); ends those it refuses. */
  recheck(): number {
    let ended = 0;
    for (const h of [...this.held]) {
      const refused = this.refusal(h.identity, h.needs);
      if (refused === undefined) continue;
      this.held.delete(h);
      ended++;
      h.end(refused);
    }
    return ended;
  }

  /** Streams held now (for tests and status). */
  get heldStreams(): number {
    return this.held.size;
  }

  /**
   * The service with its handlers checked before they run: a refused unary or server-streaming
   * call never reaches its handler, and a server stream stays held (see hold) until it ends.
   * Streams of requests are checked per message by their handlers (perMessage); one the table
   * does not mark so is refused whole, so a new streaming method without its rule stays shut.
   */
  wrap<S extends UntypedServiceImplementation>(definition: ServiceDefinition, implementation: S): S {
    const out: UntypedServiceImplementation = { ...implementation };
    for (const [name, method] of Object.entries(definition)) {
      const handler = implementation[name];
      if (handler === undefined) continue;
      const noRule = (): DomainError => new DomainError('permission-denied', `${permissionDeniedPrefix}${method.path} has no access rule`, notApplied);
      if (method.requestStream) {
        if (requiredAccess(method.path, undefined, this.opts.leaseKeys) === 'per-message') continue;
        out[name] = ((call: ServerDuplexStream<unknown, unknown>): void => {
          call.emit('error', toServiceError(noRule()));
        }) as handleBidiStreamingCall<unknown, unknown>;
        continue;
      }
      /** The identity and needs of an allowed call (undefined needs: open), or the refusal. */
      const decide = (call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): { identity: CallIdentity; needs?: Need[] } | DomainError => {
        const needs = requiredAccess(method.path, call.request, this.opts.leaseKeys);
        if (needs === 'open') return { identity: { user: '' } };
        // A method that takes one request but is checked per message has no rule: refuse.
        if (needs === 'per-message') return noRule();
        const identity = this.identity(call, method.path);
        return this.refusal(identity, needs) ?? { identity, needs };
      };
      if (!method.responseStream) {
        const unaryHandler = handler as handleUnaryCall<unknown, unknown>;
        out[name] = ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
          const d = decide(call);
          if (d instanceof DomainError) callback(toServiceError(d) as ServiceError);
          else unaryHandler(call, callback);
        }) as handleUnaryCall<unknown, unknown>;
      } else {
        const streamHandler = handler as handleServerStreamingCall<unknown, unknown>;
        out[name] = ((call: ServerWritableStream<unknown, unknown>): void => {
          const d = decide(call);
          if (d instanceof DomainError) {
            call.emit('error', toServiceError(d));
            return;
          }
          if (d.needs !== undefined) {
            const release = this.hold(d.identity, d.needs, (err) => call.emit('error', toServiceError(err)));
            call.on('close', release);
            call.on('cancelled', release);
          }
          streamHandler(call);
        }) as handleServerStreamingCall<unknown, unknown>;
      }
    }
    return out as S;
  }

  /** For a stream of requests: checks each request as the caller's user (looked up once per stream). */
  perMessage(call: CallContext): { readonly identity: CallIdentity; check(needs: readonly Need[]): void } {
    const identity = this.identity(call);
    return { identity, check: (needs) => this.check(identity, needs) };
  }

  private isNode(raw: Buffer): boolean {
    const key = raw.toString('base64');
    let ok = this.peers.get(key);
    if (ok === undefined) {
      ok = isNodeCertificate(new X509Certificate(raw), this.opts.peerHosts);
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

/** A certificate with several common names is nobody: which one would name the user is anyone's guess. */
function commonName(cert: PeerCertificate | undefined): string {
  const cn = cert?.subject?.CN;
  return typeof cn === 'string' ? cn : '';
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
