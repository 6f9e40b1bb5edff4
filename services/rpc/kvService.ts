import { type ChannelCredentials, credentials, Metadata, ServerDuplexStream, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import * as pb from '../../proto/gen/concord/v1/kv';
import { DomainError, invalidArgument, notApplied } from '../core/errors/DomainError';
import { KvCommand, KvCommandResult, kvLimits, KvEvent } from '../core/kv/types';
import { AuthorityNode } from '../node/authority/AuthorityNode';
import { KvWatchHub, watches } from '../node/authority/KvWatchHub';
import { callUnary, UnaryMethod } from '../node/callUnary';
import { peerChannelOptions } from '../node/peerChannelOptions';
import { LinkFaults } from '../node/LinkFaults';
import { remainingMs, serverStream, unary } from './handlers';
import { toServiceError } from './errorTable';
import { type CallAuthorizer, forwardedByHeader, setForwardedFor } from './CallAuthorizer';
import { kvWatchNeeds } from './requiredAccess';
import { readTooSlowlyPhrase, WatchQueue } from './WatchQueue';
import { checkKey, checkValue, fromKv, fromRange, fromResponseOp, nonNegative, num, toRangeQuery, toTxnCommand } from './kvConvert';

const defaultDeadlineMs = 5000;

export interface KvServiceOptions {
  readonly nodeId: string;
  /** Addresses of the other voters, for forwarding writes to the leader. */
  readonly voterAddresses: ReadonlyMap<string, string>;
  /** Injected link faults: a forward never crosses a cut link. */
  readonly faults: LinkFaults;
  /** Answers a watch stream may have waiting to be sent before it ends (default `watchQueueMaxDefault`). */
  readonly watchQueueMax?: number;
  /** How to dial the leader when forwarding (default insecure). */
  readonly credentials?: ChannelCredentials;
  /**
   * The access policy's checks: each watch a WatchStream creates is checked on its own, and a
   * forwarded write names the user it acts for (the wrapper checks the other calls before they
   * get here, and the leader checks a forwarded one again).
   */
  readonly authorizer?: CallAuthorizer;
}

/**
 * Live answers a Watch or WatchStream may have queued for a client that reads too slowly (its
 * HTTP/2 window full) before the stream ends with RESOURCE_EXHAUSTED, naming the revision to
 * resume from: without a bound, one client that stops reading grows the node's memory without
 * limit. A replay, and a WatchStream's answers to its requests, come on top while they wait (see
 * WatchQueue).
 */
export const watchQueueMaxDefault = 10_000;

/** The error that ends a watch stream its client does not read; `from` is where to watch again. */
function readTooSlowly(queued: number, from: string): DomainError {
  return new DomainError('too-large', `${readTooSlowlyPhrase}: ${queued} answers wait to be sent; watch again from ${from}`);
}

/**
 * The authoritative KV API. Writes go through the replicated log; a follower forwards a write
 * to the leader it knows (one hop; a forwarded call is never forwarded again) and relays the
 * answer, so clients may call any voter. Without a reachable majority every call fails at once
 * with UNAVAILABLE naming the voters this node reaches.
 */
export function kvService(auth: AuthorityNode, opts: KvServiceOptions): pb.KvServiceServer {
  const hub = new KvWatchHub(auth);
  const clients = new Map<string, pb.KvServiceClient>();
  const clientFor = (id: string): pb.KvServiceClient | undefined => {
    const address = opts.voterAddresses.get(id);
    if (address === undefined) return undefined;
    let c = clients.get(id);
    if (c === undefined) clients.set(id, (c = new pb.KvServiceClient(address, opts.credentials ?? credentials.createInsecure(), peerChannelOptions)));
    return c;
  };
  const header = (): pb.ResponseHeader => {
    const st = auth.softState();
    return { revision: BigInt(auth.sm.store.revision), nodeId: opts.nodeId, leaderId: st.leader ?? '', term: BigInt(st.term) };
  };

  /** Runs `local` here, or forwards the same call to the leader when this node is not it. */
  function write<Req, Res>(
    method: (c: pb.KvServiceClient) => UnaryMethod<Req, Res>,
    local: (req: Req, timeoutMs: number) => Promise<Res>,
  ) {
    return unary(async (req: Req, call: ServerUnaryCall<Req, Res>): Promise<Res> => {
      const timeoutMs = remainingMs(call, defaultDeadlineMs) - 20;
      try {
        return await local(req, timeoutMs);
      } catch (err) {
        if (!(err instanceof DomainError) || err.kind !== 'not-leader') throw err;
        const leader = auth.leaderElsewhere();
        const client = leader === undefined ? undefined : clientFor(leader);
        if (leader !== undefined && opts.faults.isCut(leader)) {
          throw new DomainError('unavailable', `no quorum: the link from ${opts.nodeId} to the leader ${leader} is cut`, {
            'reachable-voters': auth.reachableVoters().join(','),
            leader,
            ...notApplied,
          });
        }
        if (client === undefined || call.metadata.get(forwardedByHeader).length > 0) {
          throw new DomainError('unavailable', `node ${opts.nodeId} is not the leader and cannot forward`, { leader: leader ?? '', ...notApplied });
        }
        const md = new Metadata();
        md.set(forwardedByHeader, opts.nodeId);
        if (opts.authorizer !== undefined) setForwardedFor(md, opts.authorizer.identity(call).user);
        return callUnary(method(client).bind(client), req, timeoutMs, md);
      }
    });
  }

  /** Lease clocks live on the leader: elsewhere the call is forwarded (see write). */
  const assertLeading = (): void => {
    auth.assertQuorumReachable();
    if (auth.softState().role !== 'leader') throw new DomainError('not-leader', 'lease clocks are kept by the leader');
  };

  /**
   * A read of the leases as the leader holds them, linearizable: a leader just elected may not
   * have applied what its predecessor committed, and a deposed one may not know it yet, so it
   * first confirms its leadership and applies everything committed before the call (ReadIndex).
   */
  const leadingRead = async (timeoutMs: number): Promise<void> => {
    assertLeading();
    await auth.linearizableRead(timeoutMs);
    assertLeading();
  };

  const propose = async <T extends KvCommandResult['type']>(cmd: KvCommand & { type: T }, timeoutMs: number): Promise<Extract<KvCommandResult, { type: T }>> =>
    (await auth.propose(cmd, timeoutMs)) as Extract<KvCommandResult, { type: T }>;

  return {
    range: unary(async (req, call) => {
      const q = toRangeQuery(req);
      if (!req.serializable) await auth.linearizableRead(remainingMs(call, defaultDeadlineMs) - 20);
      return fromRange(auth.sm.store.range(q), header());
    }),

    put: write((c) => c.put, async (req: pb.PutRequest, t) => {
      const r = await propose({ type: 'put', key: checkKey(req.key), value: checkValue(req.value), lease: nonNegative(req.lease, 'lease'), prevKv: req.prevKv }, t);
      return { header: { ...header(), revision: BigInt(r.revision) }, prevKv: r.prevKv === undefined ? undefined : fromKv(r.prevKv) };
    }),

    deleteRange: write((c) => c.deleteRange, async (req: pb.DeleteRangeRequest, t) => {
      const r = await propose({ type: 'delete', key: checkKey(req.key), rangeEnd: req.rangeEnd, prevKv: req.prevKv }, t);
      return { header: { ...header(), revision: BigInt(r.revision) }, deleted: BigInt(r.deleted), prevKvs: r.prevKvs.map(fromKv) };
    }),

    txn: write((c) => c.txn, async (req: pb.TxnRequest, t) => {
      const r = await propose(toTxnCommand(req), t);
      const h = { ...header(), revision: BigInt(r.revision) };
      return { header: h, succeeded: r.succeeded, responses: r.responses.map((op) => fromResponseOp(op, h)) };
    }),

    compact: write((c) => c.compact, async (req: pb.CompactionRequest, t) => {
      await propose({ type: 'compact', revision: nonNegative(req.revision, 'revision') }, t);
      return { header: header() };
    }),

    watch: serverStream(async (req: pb.KvWatchRequest, call: ServerWritableStream<pb.KvWatchRequest, pb.KvWatchResponse>) => {
      await watch(auth, hub, req, call, header, opts.watchQueueMax ?? watchQueueMaxDefault);
    }),

    watchStream: watchStream(auth, hub, header, opts.watchQueueMax ?? watchQueueMaxDefault, opts.authorizer),

    leaseGrant: write((c) => c.leaseGrant, async (req: pb.LeaseGrantRequest, t) => {
      const ttlMs = nonNegative(req.ttlMs, 'ttl_ms');
      if (ttlMs < kvLimits.leaseTtlMsMin || ttlMs > kvLimits.leaseTtlMsMax) {
        throw invalidArgument(`ttl_ms must be within ${kvLimits.leaseTtlMsMin}..${kvLimits.leaseTtlMsMax}`);
      }
      const r = await propose({ type: 'lease-grant', id: nonNegative(req.id, 'id'), ttlMs }, t);
      return { header: header(), id: BigInt(r.id), ttlMs: BigInt(r.ttlMs), fencingToken: BigInt(r.fencingToken) };
    }),

    leaseRevoke: write((c) => c.leaseRevoke, async (req: pb.LeaseRevokeRequest, t) => {
      await propose({ type: 'lease-revoke', id: nonNegative(req.id, 'id') }, t);
      return { header: header() };
    }),

    leaseKeepAlive: write((c) => c.leaseKeepAlive, async (req: pb.LeaseKeepAliveRequest, t) => {
      const id = nonNegative(req.id, 'id');
      // As etcd's ensureLeadership: a leader cut off from the others and not yet aware of it
      // must not tell a holder its lease lives on while a new leader counts it down.
      await leadingRead(t);
      const r = auth.keepAlive(id);
      return { header: header(), id: BigInt(id), ttlMs: BigInt(r.ttlMs), fencingToken: BigInt(r.fencingToken) };
    }),

    // The leader keeps the leases' clocks: a follower forwards (see write).
    leaseTimeToLive: write((c) => c.leaseTimeToLive, async (req: pb.LeaseTimeToLiveRequest, t) => {
      const id = nonNegative(req.id, 'id');
      await leadingRead(t);
      const r = auth.leaseTimeToLive(id, req.keys);
      return {
        header: header(), id: BigInt(id), ttlMs: BigInt(r.ttlMs), grantedTtlMs: BigInt(r.grantedTtlMs), fencingToken: BigInt(r.fencingToken),
        keys: r.keys, keyCount: BigInt(r.keyCount),
      };
    }),

    leaseLeases: write((c) => c.leaseLeases, async (_req: pb.LeaseLeasesRequest, t) => {
      await leadingRead(t);
      return {
        header: header(),
        leases: auth.leases().map((l) => ({ id: BigInt(l.id), ttlMs: BigInt(l.ttlMs), grantedTtlMs: BigInt(l.grantedTtlMs), fencingToken: BigInt(l.fencingToken), keyCount: BigInt(l.keyCount) })),
      };
    }),

    counterAdd: write((c) => c.counterAdd, async (req: pb.CounterAddRequest, t) => {
      const r = await propose({
        type: 'counter-add',
        key: checkKey(req.key),
        delta: num(req.delta, 'delta'),
        floor: req.hasFloor ? num(req.floor, 'floor') : undefined,
        ceiling: req.hasCeiling ? num(req.ceiling, 'ceiling') : undefined,
      }, t);
      return { header: { ...header(), revision: BigInt(r.revision) }, value: BigInt(r.value) };
    }),
  };
}

/** What one watch tells its stream (see openWatch). */
interface WatchSink {
  /** The watch is in place (after its request was checked, before any of its events). */
  created(): void;
  /** The events of one revision that fall in the watch, in order. */
  events(revision: number, events: pb.Event[]): void;
  /** `start_revision` was compacted away; the watch has ended. */
  compacted(compactRevision: number): void;
  /** The node lost its majority; the watch has ended. */
  failed(err: unknown): void;
}

/**
 * One watch of [key, range_end): events from `start_revision` (replayed from history), then
 * live ones as this node applies them, one call per revision: no gap and no duplicate, and the
 * same sequence on every node, so a client that reconnects elsewhere resumes at its last
 * revision + 1. Throws on a bad request before anything is registered; returns the watch's
 * close (idempotent).
 */
function openWatch(auth: AuthorityNode, hub: KvWatchHub, req: pb.KvWatchRequest, sink: WatchSink): () => void {
  if (req.rangeEnd === '') checkKey(req.key);
  const start = nonNegative(req.startRevision, 'start_revision');
  let last = start === 0 ? auth.sm.store.revision : start - 1;
  const send = (revision: number, mine: readonly KvEvent[]): void => {
    if (revision <= last) return;
    last = revision;
    if (mine.length === 0) return;
    sink.events(revision, mine.map((e) => ({
      type: e.type === 'put' ? pb.Event_EventType.PUT : pb.Event_EventType.DELETE,
      kv: fromKv(e.kv),
      prevKv: req.prevKv && e.prevKv !== undefined ? fromKv(e.prevKv) : undefined,
    })));
  };
  sink.created();
  // Live revisions come through the node's hub (the events of this watch's key or range
  // only); it ends the watch when the node loses its majority.
  const remove = hub.add({
    key: req.key,
    rangeEnd: req.rangeEnd,
    deliver: send,
    fail: (err) => {
      remove();
      sink.failed(err);
    },
  });
  if (start !== 0) {
    try {
      for (const batch of auth.sm.store.eventsSince(start)) send(batch.revision, batch.events.filter((e) => watches(req, e.kv.key)));
    } catch {
      remove();
      sink.compacted(auth.sm.store.compactRevision);
    }
  }
  return remove;
}

/** Watch: one watch, its stream ending with it. */
function watch(
  auth: AuthorityNode,
  hub: KvWatchHub,
  req: pb.KvWatchRequest,
  call: ServerWritableStream<pb.KvWatchRequest, pb.KvWatchResponse>,
  header: () => pb.ResponseHeader,
  queueMax: number,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let ended = false;
    let replaying = true;
    const queue = new WatchQueue<pb.KvWatchResponse>(call, queueMax);
    // No close yet while the replay runs inside openWatch.
    const watch: { close?: () => void } = {};
    watch.close = openWatch(auth, hub, req, {
      created: () => undefined,
      events: (revision, events) => {
        if (ended) return;
        if (!queue.write({ header: { ...header(), revision: BigInt(revision) }, compactRevision: 0n, events }, replaying)) return;
        ended = true;
        watch.close?.();
        resolve();
        call.emit('error', toServiceError(readTooSlowly(queue.waiting, `revision ${revision + 1}`)));
      },
      // The start was compacted away: say so and end the watch (the wrapper ends the stream).
      compacted: (compactRevision) => {
        call.write({ header: header(), events: [], compactRevision: BigInt(compactRevision) });
        resolve();
      },
      failed: (err) => {
        resolve();
        call.emit('error', toServiceError(err));
      },
    });
    replaying = false;
    if (ended) watch.close();
    const done = (): void => {
      watch.close?.();
      resolve();
    };
    call.on('cancelled', done);
    call.on('close', done);
  });
}

/** Watches one WatchStream carries at most; a create past it is refused (canceled, with the reason). */
export const watchesPerStreamMax = 65_536;

/**
 * WatchStream: many watches over one stream, as etcd's Watch carries them. A create is answered
 * `created` (then the watch's events, each answer naming it) or `canceled` with the reason (a
 * bad request, an id in use, too many watches); a cancel is answered `canceled`. The stream ends
 * when the client ends its side, and with UNAVAILABLE, every watch at once, when the node loses
 * its majority (the client resumes elsewhere, as with Watch).
 */
function watchStream(auth: AuthorityNode, hub: KvWatchHub, header: () => pb.ResponseHeader, queueMax: number, authorizer: CallAuthorizer | undefined) {
  return (call: ServerDuplexStream<pb.KvWatchStreamRequest, pb.KvWatchStreamResponse>): void => {
    const allowed = authorizer?.perMessage(call);
    const open = new Map<bigint, () => void>();
    let nextId = 1n;
    let ended = false;
    // True while a create replays its watch's history (those events are not live).
    let replaying = false;
    // Reading requests stops while too many answers wait, so a burst of creates is answered as
    // the client reads, and a client that sends requests but never reads holds no more memory.
    let paused = false;
    const queue = new WatchQueue<pb.KvWatchStreamResponse>(call, queueMax, () => {
      if (!paused) return;
      paused = false;
      call.resume();
    });
    /** Writes an answer: `live` for an event as it happens, else the answer to a request (or its replay). */
    const answer = (res: Partial<pb.KvWatchStreamResponse> & { watchId: bigint }, live = false): void => {
      if (ended || call.cancelled || call.writableEnded) return;
      const over = queue.write({ header: header(), created: false, canceled: false, cancelReason: '', compactRevision: 0n, events: [], ...res }, !live);
      // Each watch resumes after the last revision its client read.
      if (live && over) return end(readTooSlowly(queue.waiting, 'the last revision read of each watch + 1'));
      if (queue.full && !paused) {
        paused = true;
        call.pause();
      }
    };
    const closeAll = (): void => {
      for (const close of open.values()) close();
      open.clear();
    };
    const end = (err?: unknown): void => {
      if (ended) return;
      closeAll();
      if (err === undefined) call.end();
      else call.emit('error', toServiceError(err));
      ended = true;
    };
    const create = (c: pb.KvWatchCreate): void => {
      let id = c.watchId;
      const refuse = (reason: string): void => answer({ watchId: id, canceled: true, cancelReason: reason });
      if (id < 0n) return refuse('watch_id must not be negative');
      if (id === 0n) {
        while (open.has(nextId)) nextId++;
        id = nextId++;
      } else if (open.has(id)) return refuse(`watch ${id} is already open on this stream`);
      if (open.size >= watchesPerStreamMax) return refuse(`at most ${watchesPerStreamMax} watches may be open on one stream`);
      const needs = kvWatchNeeds(c.watch ?? pb.KvWatchRequest.fromPartial({}));
      try {
        allowed?.check(needs);
      } catch (err) {
        // As etcd does: the watch is refused (canceled, with the reason), the stream goes on.
        return refuse(toServiceError(err).details ?? String(err));
      }
      const watchId = id;
      try {
        open.set(watchId, () => undefined); // taken while its replay runs
        replaying = true;
        const close = openWatch(auth, hub, c.watch ?? pb.KvWatchRequest.fromPartial({}), {
          created: () => answer({ watchId, created: true }),
          events: (revision, events) => answer({ watchId, header: { ...header(), revision: BigInt(revision) }, events }, !replaying),
          compacted: (compactRevision) => {
            open.delete(watchId);
            answer({ watchId, canceled: true, compactRevision: BigInt(compactRevision), cancelReason: `start revision ${c.watch?.startRevision ?? 0n} has been compacted (compact revision ${compactRevision})` });
          },
          failed: (err) => end(err),
        });
        // Unless the replay found its start compacted (the watch has ended).
        if (open.has(watchId)) {
          // A reloaded policy that no longer allows the watch cancels it, with the reason.
          const release = allowed === undefined || authorizer === undefined ? () => undefined : authorizer.hold(allowed.identity, needs, (err) => {
            if (open.get(watchId) !== closeHeld) return;
            open.delete(watchId);
            close();
            answer({ watchId, canceled: true, cancelReason: err.message });
          });
          const closeHeld = (): void => {
            release();
            close();
          };
          open.set(watchId, closeHeld);
        }
      } catch (err) {
        open.delete(watchId);
        refuse(toServiceError(err).details ?? String(err));
      } finally {
        replaying = false;
      }
    };
    call.on('data', (req: pb.KvWatchStreamRequest) => {
      if (ended) return;
      const r = req.request;
      if (r?.$case === 'create') create(r.value);
      else if (r?.$case === 'cancel') {
        const close = open.get(r.value.watchId);
        open.delete(r.value.watchId);
        close?.();
        answer({ watchId: r.value.watchId, canceled: true, cancelReason: close === undefined ? 'no such watch on this stream' : '' });
      } else end(invalidArgument('a watch stream request needs create or cancel'));
    });
    call.on('end', () => end());
    // The client went away (cancelled, reset): its watches end with it.
    call.on('cancelled', () => {
      closeAll();
      ended = true;
    });
    call.on('error', () => {
      closeAll();
      ended = true;
    });
  };
}
