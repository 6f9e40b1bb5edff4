import { status, type ServiceError } from '@grpc/grpc-js';
import * as pb from '../../../proto/gen/concord/v1/kv';
import type { KvRangeOptions } from '../../../clients/client/KvOptions';
import { int64, rangeRequest } from '../../../clients/client/kvRequests';
import { serviceError } from '../../../clients/client/serviceError';
import type { KvClient } from '../../../clients/client/saga/SagaStore';
import { DomainError } from '../../../services/core/errors/DomainError';
import { KvStateMachine } from '../../../services/core/kv/KvStateMachine';
import type { KvCommand, KvCommandResult } from '../../../services/core/kv/types';
import { toServiceError } from '../../../services/rpc/errorTable';
import { fromRange, fromResponseOp, toRangeQuery, toTxnCommand } from '../../../services/rpc/kvConvert';

/** How one call fails: before it applies (nothing happened), after (it happened, the answer is lost), or held (no answer by the deadline; it applies when the test says). */
export type Fault = 'before' | 'after' | 'hold' | undefined;

/**
 * The KV calls sagas use, answered in memory by the nodes' own KV state machine (the same
 * compare, transaction and lease code a cluster applies), for the seeded saga simulation. Calls
 * can fail as a network does (`fault`): refused before they apply, applied with the answer
 * lost, or held in flight and applied later (a stalled process's write landing after others).
 * Leases end when the test says (`expire`), as a crashed runner's TTL running out.
 */
export class MemoryKvClient implements KvClient {
  readonly sm = new KvStateMachine();
  private index = 0;
  private readonly held: (() => void)[] = [];
  fault: (call: string) => Fault = () => undefined;
  /** Event-loop turns a call waits before it applies (seeded by tests: other calls overtake it). */
  turns: () => number = () => 0;

  private apply(cmd: KvCommand): KvCommandResult {
    const r = this.sm.apply(++this.index, cmd);
    if (r instanceof DomainError) throw asServiceError(r);
    return r;
  }

  private header(revision = this.sm.store.revision): pb.ResponseHeader {
    return { revision: BigInt(revision), nodeId: 'mem', leaderId: 'mem', term: 1n };
  }

  /** Runs `apply` with the call's fault, after its turns of delay. */
  private call<T>(name: string, apply: () => T): Promise<T> {
    const n = this.turns();
    if (n <= 0) return this.now(name, apply);
    return new Promise<void>((resolve) => {
      let left = n;
      const wait = (): void => void (--left <= 0 ? resolve() : setImmediate(wait));
      setImmediate(wait);
    }).then(() => this.now(name, apply));
  }

  private now<T>(name: string, apply: () => T): Promise<T> {
    const f = this.fault(name);
    if (f === 'before') return Promise.reject(serviceError(status.UNAVAILABLE, `${name}: injected failure before it applied`));
    if (f === 'hold') {
      this.held.push(() => {
        try {
          apply();
        } catch {
          // A held call that fails when it lands changes nothing: nobody waits for its answer.
        }
      });
      // Its answer never comes: the caller's deadline passes (it may still land later).
      return new Promise<T>((_resolve, reject) => setImmediate(() => reject(serviceError(status.DEADLINE_EXCEEDED, `${name}: no answer within the deadline (injected)`))));
    }
    try {
      const r = apply();
      return f === 'after' ? Promise.reject(serviceError(status.UNAVAILABLE, `${name}: injected failure after it applied`)) : Promise.resolve(r);
    } catch (err) {
      // A refusal answers as a node's would (a domain error mapped to its status).
      return Promise.reject(err instanceof DomainError ? asServiceError(err) : err);
    }
  }

  /** Applies every held call now, in the order they were made. */
  deliverHeld(): number {
    const n = this.held.length;
    this.held.splice(0).forEach((f) => f());
    return n;
  }

  kvRange(key: string, options: KvRangeOptions = {}): Promise<pb.RangeResponse> {
    return this.call('range', () => fromRange(this.sm.store.range(toRangeQuery(rangeRequest(key, options))), this.header()));
  }

  kvTxn(txn: Partial<pb.TxnRequest>): Promise<pb.TxnResponse> {
    const req = pb.TxnRequest.fromPartial(txn);
    return this.call('txn', () => {
      // As a node takes it: at most kvLimits.txnOpsMax compares and operations.
      const r = this.apply(toTxnCommand(req));
      if (r.type !== 'txn') throw new Error('not a txn result');
      const header = this.header(r.revision);
      return { header, succeeded: r.succeeded, responses: r.responses.map((op) => fromResponseOp(op, header)) };
    });
  }

  leaseGrant(ttlMs: number): Promise<pb.LeaseGrantResponse> {
    return this.call('leaseGrant', () => {
      const r = this.apply({ type: 'lease-grant', id: 0, ttlMs });
      if (r.type !== 'lease-grant') throw new Error('not a lease-grant result');
      return { header: this.header(), id: BigInt(r.id), ttlMs: BigInt(r.ttlMs), fencingToken: BigInt(r.fencingToken) };
    });
  }

  leaseKeepAlive(id: bigint | number): Promise<pb.LeaseKeepAliveResponse> {
    return this.call('leaseKeepAlive', () => {
      const lease = this.sm.leaseIds().find((l) => l.id === Number(id));
      if (lease === undefined) throw serviceError(status.NOT_FOUND, `lease ${id} not found`);
      return { header: this.header(), id: int64(id), ttlMs: BigInt(lease.ttlMs), fencingToken: BigInt(lease.fencingToken) };
    });
  }

  leaseRevoke(id: bigint | number): Promise<pb.LeaseRevokeResponse> {
    return this.call('leaseRevoke', () => {
      this.apply({ type: 'lease-revoke', id: Number(id) });
      return { header: this.header() };
    });
  }

  /** The lease ends (its TTL ran out): its keys go. */
  expire(id: bigint): void {
    if (this.sm.leaseIds().some((l) => l.id === Number(id))) this.apply({ type: 'lease-revoke', id: Number(id) });
  }

  liveLeases(): bigint[] {
    return this.sm.leaseIds().map((l) => BigInt(l.id));
  }

  /** The value at `key` (test reads, never faulted). */
  value(key: string): string | undefined {
    const kv = this.sm.store.range(toRangeQuery(rangeRequest(key, {}))).kvs[0];
    return kv === undefined ? undefined : Buffer.from(kv.value).toString('utf8');
  }
}

/** A refusal as a client hears it from a node: an Error with the status the error table maps it to. */
function asServiceError(err: DomainError): ServiceError {
  const e = toServiceError(err);
  const out = serviceError(e.code ?? status.UNKNOWN, e.details ?? err.message);
  if (e.metadata !== undefined) out.metadata = e.metadata;
  return out;
}
