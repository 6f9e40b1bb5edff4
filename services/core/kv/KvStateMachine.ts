import { DomainError, invalidArgument } from '../errors/DomainError';
import { compareValue, valueBytes } from './storedValue';
import { decodeKvState, encodeKvState, KvStateParts } from './kvStateCodec';
import { MvccStore } from './MvccStore';
import { Compare, KeyValue, KvCommand, KvCommandResult, RequestOp, ResponseOp } from './types';

/** What a lease counts for in the store's size (its record, its keys' set, its timer on the leader). */
export const leaseBytes = 256;

interface Lease {
  readonly id: number;
  readonly ttlMs: number;
  readonly fencingToken: number;
  readonly keys: Set<string>;
}

/**
 * The replicated state machine of the authoritative path: MVCC keys, leases with fencing
 * tokens, bounded counters. `apply` is deterministic (same commands, same results, on every
 * voter) and total: an operating error is returned as a result, never thrown past it, so a
 * refused command is refused identically everywhere.
 */
export class KvStateMachine {
  store = new MvccStore();
  private leases = new Map<number, Lease>();
  private lastLeaseId = 0;
  private lastFencingToken = 0;
  appliedIndex = 0;

  apply(index: number, cmd: KvCommand): KvCommandResult | DomainError {
    this.appliedIndex = index;
    this.store.begin();
    try {
      const result = this.execute(cmd);
      this.store.commit();
      return result;
    } catch (err) {
      // Every check runs before the first write, so a refused command changed nothing.
      this.store.assertNothingPending();
      if (err instanceof DomainError) return err;
      throw err;
    }
  }

  private execute(cmd: KvCommand): KvCommandResult {
    switch (cmd.type) {
      case 'put': {
        const prevKv = this.put(cmd.key, cmd.value, cmd.lease);
        return { type: 'put', revision: this.store.pendingOrCurrent(), prevKv: cmd.prevKv ? prevKv : undefined };
      }
      case 'delete': {
        const prevKvs = this.deleteRange(cmd.key, cmd.rangeEnd);
        return { type: 'delete', revision: this.store.pendingOrCurrent(), deleted: prevKvs.length, prevKvs: cmd.prevKv ? prevKvs : [] };
      }
      case 'txn': {
        const succeeded = cmd.compare.every((c) => this.compare(c));
        const ops = succeeded ? cmd.success : cmd.failure;
        for (const op of ops) this.checkOp(op);
        const responses = ops.map((op) => this.requestOp(op));
        return { type: 'txn', revision: this.store.pendingOrCurrent(), succeeded, responses };
      }
      case 'compact':
        this.store.compact(cmd.revision);
        return { type: 'compact', revision: this.store.revision };
      case 'lease-grant': {
        const id = cmd.id === 0 ? this.lastLeaseId + 1 : cmd.id;
        if (this.leases.has(id)) throw new DomainError('conflict', `lease ${id} already exists`);
        this.lastLeaseId = Math.max(this.lastLeaseId, id);
        const fencingToken = ++this.lastFencingToken;
        this.leases.set(id, { id, ttlMs: cmd.ttlMs, fencingToken, keys: new Set() });
        return { type: 'lease-grant', revision: this.store.revision, id, ttlMs: cmd.ttlMs, fencingToken };
      }
      case 'lease-revoke':
        this.revoke(this.lease(cmd.id));
        return { type: 'lease-revoke', revision: this.store.pendingOrCurrent() };
      case 'lease-expire': {
        const lease = this.leases.get(cmd.id);
        if (lease === undefined || lease.fencingToken !== cmd.grantToken) return { type: 'lease-expire', revision: this.store.revision, expired: false };
        this.revoke(lease);
        return { type: 'lease-expire', revision: this.store.pendingOrCurrent(), expired: true };
      }
      case 'counter-add': {
        const current = this.store.get(cmd.key);
        const text = current === undefined ? '0' : new TextDecoder().decode(valueBytes(current.value));
        if (!/^-?\d+$/.test(text)) throw new DomainError('wrong-type', `key ${cmd.key} does not hold an integer counter`);
        const next = Number(text) + cmd.delta;
        if (!Number.isSafeInteger(next)) throw new DomainError('conflict', `counter ${cmd.key} would leave the safe integer range`);
        if (cmd.floor !== undefined && next < cmd.floor) {
          throw new DomainError('conflict', `counter ${cmd.key} is ${text}; adding ${cmd.delta} would go below the floor ${cmd.floor}`, { value: text });
        }
        if (cmd.ceiling !== undefined && next > cmd.ceiling) {
          throw new DomainError('conflict', `counter ${cmd.key} is ${text}; adding ${cmd.delta} would go above the ceiling ${cmd.ceiling}`, { value: text });
        }
        this.put(cmd.key, new TextEncoder().encode(String(next)), current?.lease ?? 0);
        return { type: 'counter-add', revision: this.store.pendingOrCurrent(), value: next };
      }
    }
  }

  private put(key: string, value: Uint8Array, leaseId: number): KeyValue | undefined {
    if (leaseId !== 0) this.lease(leaseId);
    const prev = this.store.put(key, value, leaseId);
    if (prev !== undefined && prev.lease !== 0 && prev.lease !== leaseId) this.leases.get(prev.lease)?.keys.delete(key);
    if (leaseId !== 0) this.lease(leaseId).keys.add(key);
    return prev;
  }

  private deleteRange(key: string, rangeEnd: string): KeyValue[] {
    const deleted = this.store.deleteRange(key, rangeEnd);
    for (const kv of deleted) if (kv.lease !== 0) this.leases.get(kv.lease)?.keys.delete(kv.key);
    return deleted;
  }

  private revoke(lease: Lease): void {
    for (const key of [...lease.keys].sort()) this.deleteRange(key, '');
    this.leases.delete(lease.id);
  }

  lease(id: number): Lease {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new DomainError('not-found', `lease ${id} not found (expired, revoked or never granted)`);
    return lease;
  }

  leaseIds(): { id: number; ttlMs: number; fencingToken: number; keyCount: number }[] {
    return [...this.leases.values()].map((l) => ({ id: l.id, ttlMs: l.ttlMs, fencingToken: l.fencingToken, keyCount: l.keys.size }));
  }

  private requestOp(op: RequestOp): ResponseOp {
    switch (op.type) {
      case 'range':
        return { type: 'range', result: this.store.range(op.query) };
      case 'put':
        return { type: 'put', prevKv: op.prevKv ? this.put(op.key, op.value, op.lease) : (this.put(op.key, op.value, op.lease), undefined) };
      case 'delete': {
        const prevKvs = this.deleteRange(op.key, op.rangeEnd);
        return { type: 'delete', deleted: prevKvs.length, prevKvs: op.prevKv ? prevKvs : [] };
      }
    }
  }

  /** Checks a transaction's operation before any of them writes. */
  private checkOp(op: RequestOp): void {
    if (op.type === 'put' && op.lease !== 0) this.lease(op.lease);
    if (op.type === 'range' && op.query.revision !== 0) {
      if (op.query.revision < this.store.compactRevision || op.query.revision > this.store.revision) {
        throw new DomainError('out-of-range', `revision ${op.query.revision} is outside ${this.store.compactRevision}..${this.store.revision}`);
      }
    }
  }

  private compare(c: Compare): boolean {
    const kv = this.store.get(c.key);
    let cmp: number;
    if (c.target === 'value') {
      if (c.value === undefined) throw invalidArgument('value compare needs a value');
      if (kv === undefined) return false; // etcd: a value compare on a missing key is false
      cmp = compareValue(kv.value, c.value);
    } else {
      const have = kv === undefined ? 0 : c.target === 'version' ? kv.version : c.target === 'create' ? kv.createRevision : c.target === 'mod' ? kv.modRevision : kv.lease;
      cmp = Math.sign(have - (c.number ?? 0));
    }
    switch (c.result) {
      case 'equal':
        return cmp === 0;
      case 'not-equal':
        return cmp !== 0;
      case 'greater':
        return cmp > 0;
      case 'less':
        return cmp < 0;
    }
  }

  /**
   * The size the quota is checked against: the store's (MvccStore.bytes) and `leaseBytes` per
   * lease. The same on every voter.
   */
  get bytes(): number {
    return this.store.bytes + this.leases.size * leaseBytes;
  }

  snapshot(): Uint8Array {
    return encodeKvState(this.snapshotParts());
  }

  /**
   * The state of this moment, to encode later while commands keep applying (see
   * MvccStore.dump and encodeKvStateInParts): O(keys + leases + kept events) references.
   */
  snapshotParts(): KvStateParts {
    return {
      store: this.store.dump(),
      leases: [...this.leases.values()].map((l) => ({ ...l, keys: [...l.keys] })),
      lastLeaseId: this.lastLeaseId,
      lastFencingToken: this.lastFencingToken,
      appliedIndex: this.appliedIndex,
    };
  }

  static restore(bytes: Uint8Array): KvStateMachine {
    const data = decodeKvState(bytes);
    const sm = new KvStateMachine();
    sm.store = MvccStore.restore(data.store);
    for (const l of data.leases) sm.leases.set(l.id, { ...l, keys: new Set(l.keys) });
    sm.lastLeaseId = data.lastLeaseId;
    sm.lastFencingToken = data.lastFencingToken;
    sm.appliedIndex = data.appliedIndex;
    return sm;
  }
}

