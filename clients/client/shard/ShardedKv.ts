import { randomUUID } from 'node:crypto';
import type { Compare, RequestOp } from '../../../proto/gen/concord/v1/kv';
import { kvOps } from '../kvOps';
import { txnRangeKvs, utf8 } from '../txnRanges';
import { Shard, ShardMap } from './ShardMap';

/** Keys the transactions keep on each shard: a key's lock, and on a transaction's primary shard its record. */
export const internalPrefix = '__2pc/';
const lockKey = (key: string): string => `${internalPrefix}lock/${key}`;
const recordKey = (txn: string): string => `${internalPrefix}txn/${txn}`;

/** A transaction's lock on one key: what it will write there once committed, and where its record is. */
interface Lock {
  readonly txn: string;
  readonly primary: string;
  /** Until when (ms, the writer's clock) it must be waited for: past it, a transaction not yet decided may be aborted by anyone. */
  readonly deadline: number;
  readonly op: 'put' | 'delete' | 'read';
  readonly value?: string;
}

export interface ShardedKvOptions {
  /** How long this client's locks are waited for, while undecided, before anyone may abort them (default 5 s). */
  readonly lockTtlMs?: number;
  /** Bound on one call's waiting for other transactions' locks and retrying (default: twice the lock TTL, at least 10 s). */
  readonly waitMaxMs?: number;
  /** Test hook: hears each transaction's id once it has one. */
  readonly onTransaction?: (id: string, t: ShardedTxn) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Test hook: called at each step of a commit (a throw there is a coordinator crashing at that point). */
  readonly failpoint?: (point: 'prepared' | 'decided' | 'applied-one') => void;
}

/** A transaction over keys of any shards: commits only if every compare holds, all or nothing. */
export interface ShardedTxn {
  /** `value` undefined: the key must be absent. */
  readonly compares?: readonly { readonly key: string; readonly value: string | undefined }[];
  readonly puts?: Readonly<Record<string, string>>;
  readonly deletes?: readonly string[];
}

/**
 * A key-value store sharded by key ranges over several Concord clusters (ShardMap), with
 * transactions across shards by two-phase commit, coordinated by the client as Percolator does
 * over Bigtable: each shard's own compare-and-set transactions are the only primitive.
 *
 * - Prepare: on every shard a transaction touches, one local transaction checks its compares and
 *   that no other transaction holds a lock on its keys, and writes a lock on each (naming the
 *   transaction, its primary shard, the value it will write and its deadline, `lockTtlMs` on).
 * - Commit point: the transaction's record on its primary shard, created `committed` only if
 *   absent. Anyone who finds a lock of a transaction whose record is absent and whose deadline
 *   has passed may create the record `aborted` instead; the create decides, once.
 * - Apply: on each shard, the locked keys take their values and the locks go (each step
 *   compare-and-set on the lock). A coordinator that crashed after the commit point leaves
 *   locks that any later reader or writer rolls forward; one that crashed before, locks that are
 *   rolled back once they are old.
 * - One shard: a transaction whose keys all live on one shard (a put, a delete) is that shard's
 *   own transaction, one call: it checks the compares and that no lock is in the way (another's
 *   read lock on a key it only compares is not), and writes the values and the record
 *   (`committed`) together, no lock taken (see oneShard).
 *
 * Reads settle the locks they meet first, so a read of one key, or of one shard's part of a
 * range, never sees half a transaction (a range across shards is read shard by shard: not a
 * snapshot). Keys written through transactions must be written only through ShardedKv (a plain
 * put would bypass the locks), and keys under `__2pc/` are its own.
 */
export class ShardedKv {
  private readonly opts: Required<Omit<ShardedKvOptions, 'failpoint' | 'onTransaction'>> & Pick<ShardedKvOptions, 'failpoint' | 'onTransaction'>;

  constructor(readonly map: ShardMap, options: ShardedKvOptions = {}) {
    const lockTtlMs = options.lockTtlMs ?? 5000;
    this.opts = {
      lockTtlMs,
      waitMaxMs: options.waitMaxMs ?? Math.max(10_000, 2 * lockTtlMs),
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      failpoint: options.failpoint,
      onTransaction: options.onTransaction,
    };
  }

  /** Runs `attempt` until it answers, waiting out other transactions' locks, up to waitMaxMs. */
  private async waiting<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
    const until = this.opts.now() + this.opts.waitMaxMs;
    for (;;) {
      const r = await attempt();
      if (r !== undefined) return r;
      if (this.opts.now() > until) throw new Error(`${what}: other transactions kept the keys locked for ${this.opts.waitMaxMs} ms`);
    }
  }

  /** A lock a reader must settle before it reads: a write's, or a read lock whose transaction is past its deadline (left by a dead coordinator). */
  private blocksReads(lockValue: string): boolean {
    const l = JSON.parse(lockValue) as Lock;
    return l.op !== 'read' || this.opts.now() >= l.deadline;
  }

  /** The value of `key` (undefined: absent), after settling a transaction's lock on it: the last committed value. */
  async get(key: string): Promise<string | undefined> {
    checkKey(key);
    const shard = this.map.shardOf(key);
    const found = await this.waiting(`get ${key}`, async () => {
      const r = await shard.client.kvTxn({ compare: [], success: [kvOps.get(key), kvOps.get(lockKey(key))] });
      const lock = txnRangeKvs(r, 1)[0];
      if (lock === undefined || !this.blocksReads(lock.value)) return { value: txnRangeKvs(r, 0)[0]?.value };
      await this.resolve(shard, key, lock.value);
      return undefined;
    });
    return found.value;
  }

  /**
   * Keys in [key, rangeEnd) over every shard the range spans, in key order ('\u0000': every key
   * from `key` on). Each shard's part is read at once, after settling the locks in it; parts on
   * different shards are read one after another, so a range across shards is not a snapshot: a
   * transaction that commits between two parts shows in the later one only.
   */
  async range(key: string, rangeEnd: string): Promise<{ key: string; value: string }[]> {
    const out: { key: string; value: string }[] = [];
    for (const part of this.map.shardsOf(key, rangeEnd)) {
      const kvs = await this.waiting(`range ${key}`, async () => {
        const lockEnd = part.rangeEnd === '\u0000' ? `${internalPrefix}lock0` : lockKey(part.rangeEnd);
        const r = await part.shard.client.kvTxn({ compare: [], success: [kvOps.get(part.key, { rangeEnd: part.rangeEnd }), kvOps.get(lockKey(part.key), { rangeEnd: lockEnd })] });
        const locks = txnRangeKvs(r, 1).filter((l) => this.blocksReads(l.value));
        if (locks.length === 0) return txnRangeKvs(r, 0).filter((kv) => !kv.key.startsWith(internalPrefix)).map(({ key: k, value }) => ({ key: k, value }));
        for (const l of locks) await this.resolve(part.shard, l.key.slice(lockKey('').length), l.value);
        return undefined;
      });
      out.push(...kvs);
    }
    return out;
  }

  async put(key: string, value: string): Promise<void> {
    await this.transaction({ puts: { [key]: value } });
  }

  async delete(key: string): Promise<void> {
    await this.transaction({ deletes: [key] });
  }

  /**
   * Runs `t` across the shards its keys live on: true when it committed (every compare held and
   * every write takes effect: applied here, or by whoever meets its locks should this client
   * fail after the commit point), false when a compare failed (nothing took effect).
   * TransactionAbortedError when another client aborted it first (this one was too slow, past
   * its lock TTL): nothing took effect, and it may be run again. Any other error leaves the
   * outcome unknown to the caller (decided by the transaction's record; the keys tell).
   */
  async transaction(t: ShardedTxn): Promise<boolean> {
    const ops = new Map<string, Lock['op']>();
    const values = new Map<string, string>();
    for (const c of t.compares ?? []) ops.set(checkKey(c.key), 'read');
    for (const [k, v] of Object.entries(t.puts ?? {})) {
      ops.set(checkKey(k), 'put');
      values.set(k, v);
    }
    for (const k of t.deletes ?? []) {
      if (values.has(k)) throw new Error(`key ${k} is both put and deleted`);
      ops.set(checkKey(k), 'delete');
    }
    if (ops.size === 0) return true;
    const txn = randomUUID();
    this.opts.onTransaction?.(txn, t);
    const writes = [...ops.keys()].filter((k) => ops.get(k) !== 'read');
    const primary = this.map.shardOf(writes[0] ?? [...ops.keys()][0]!);
    // Shards in key order, so two transactions meet each other's locks in the same order.
    const byShard = new Map<Shard, string[]>();
    for (const s of this.map.shards) {
      const keys = [...ops.keys()].filter((k) => this.map.shardOf(k) === s).sort();
      if (keys.length > 0) byShard.set(s, keys);
    }
    if (byShard.size === 1) {
      const success = writes.map((k) => (ops.get(k) === 'put' ? kvOps.put(k, values.get(k)!) : kvOps.del(k)));
      const readOnly = new Set([...ops].filter(([, op]) => op === 'read').map(([k]) => k));
      return this.oneShard(primary, txn, [...ops.keys()].sort(), t.compares ?? [], success, readOnly);
    }
    /** The lock each key was given (its deadline counts from its shard's prepare). */
    const locks = new Map<string, string>();
    const lockFor = (key: string, deadline: number): string => JSON.stringify({ txn, primary: primary.name, deadline, op: ops.get(key) ?? 'read', ...(values.has(key) ? { value: values.get(key) } : {}) } satisfies Lock);
    /**
     * Best effort: the record says aborted, and every lock that may have been taken goes. The
     * record stays: a call to commit this transaction that is still on its way (held in the
     * network) would find no record and create it `committed` over writes rolled back.
     */
    const abort = async (): Promise<void> => {
      await this.decide(primary, txn, 'aborted').catch(() => undefined);
      for (const [k, lock] of locks) await this.dropLock(this.map.shardOf(k), k, lock).catch(() => undefined);
    };
    try {
      for (const [shard, keys] of byShard) {
        const deadline = this.opts.now() + this.opts.lockTtlMs;
        for (const k of keys) locks.set(k, lockFor(k, deadline));
        if (!(await this.prepare(shard, keys, t.compares ?? [], keys.map((k) => kvOps.put(lockKey(k), locks.get(k)!)), (k) => locks.get(k)))) {
          await abort();
          return false;
        }
      }
    } catch (err) {
      // A prepare that failed (or whose answer was lost) may have taken its locks: drop them now
      // rather than leave them to their deadline.
      await abort();
      throw err;
    }
    this.opts.failpoint?.('prepared');
    const decided = await this.retried(() => this.decide(primary, txn, 'committed'));
    if (decided !== 'committed') {
      await abort();
      throw new TransactionAbortedError(`transaction ${txn} was aborted by another client before it committed (its locks outlived their ${this.opts.lockTtlMs} ms); nothing took effect`);
    }
    this.opts.failpoint?.('decided');
    // Committed: whatever fails from here, whoever meets a lock applies it. The record stays:
    // a reader's abort still on its way (it met a lock past its deadline before the commit)
    // would create it `aborted` over applied writes, were it gone.
    for (const [shard, keys] of byShard) {
      await this.apply(shard, keys.map((k) => ({ key: k, lock: locks.get(k)! }))).catch(() => undefined);
      this.opts.failpoint?.('applied-one');
    }
    return true;
  }

  /**
   * Deletes the record of a transaction on one shard, not waited for (one left behind is only
   * garbage): no lock names it, so no reader ever decides on it.
   */
  private dropRecord(shard: Shard, txn: string): void {
    void shard.client.kvTxn({ compare: [kvOps.compare('value', recordKey(txn), '=', 'committed')], success: [kvOps.del(recordKey(txn))] }).catch(() => undefined);
  }

  /**
   * A transaction whose keys all live on one shard: that shard's own transaction is atomic
   * already, so one call checks the compares and that no lock is in the way, and writes the
   * values with the transaction's record (committed), only if the record is absent. Should the
   * call fail (its answer lost, or held and delivered late), the record decides, as for two
   * shards: created `aborted` unless the call created it, so a late delivery finds it and takes
   * no effect. Once the answer is in, no copy of the call can land any more, and the record
   * goes (nothing else reads it: no lock names it).
   */
  private async oneShard(shard: Shard, txn: string, keys: readonly string[], compares: ShardedTxn['compares'] & object, writes: RequestOp[], readOnly: ReadonlySet<string>): Promise<boolean> {
    let ok: boolean;
    try {
      ok = await this.prepare(shard, keys, compares, [...writes, kvOps.put(recordKey(txn), 'committed')], () => undefined, [kvOps.compare('create', recordKey(txn), '=', 0)], readOnly);
    } catch (err) {
      if ((await this.retried(() => this.decide(shard, txn, 'aborted'))) === 'committed') {
        this.dropRecord(shard, txn); // the only call that writes it has landed
        return true;
      }
      throw new TransactionAbortedError(`transaction ${txn} failed (${err instanceof Error ? err.message : String(err)}) and was aborted: nothing took effect`);
    }
    if (ok) this.dropRecord(shard, txn);
    return ok;
  }

  /** A call tried again on failure (it must be idempotent), up to waitMaxMs. */
  private async retried<T>(fn: () => Promise<T>): Promise<T> {
    const until = this.opts.now() + this.opts.waitMaxMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
      try {
        return await fn();
      } catch (err) {
        if (this.opts.now() > until) throw err;
        await this.opts.sleep(delay);
      }
    }
  }

  /**
   * In one local transaction, checks this shard's compares (and `also`) and that no other
   * transaction holds a lock on its keys, read locks included (but for a live read lock on a key
   * in `readOnly`, which is shared: see below), and runs `success` (takes this
   * transaction's locks, or on a transaction's only shard writes it whole); false when a compare
   * failed. Locks in the way are settled first (waited for, rolled forward or back); one equal
   * to `ownLock` of its key is this transaction's own and not in the way.
   */
  private async prepare(
    shard: Shard, keys: readonly string[], compares: ShardedTxn['compares'] & object, success: RequestOp[], ownLock: (key: string) => string | undefined, also: Compare[] = [],
    /** Keys a transaction within one shard only compares: another's read lock there is not in the way (see below). */
    readOnly: ReadonlySet<string> = new Set(),
  ): Promise<boolean> {
    const mine = compares.filter((c) => keys.includes(c.key));
    // Read locks shared: a transaction within one shard takes no locks, so on a key it only
    // compares, another transaction's read lock (which keeps the key as it is until that one
    // ends) is no conflict. The call then requires that very lock there instead of none.
    const shared = new Map<string, string>();
    return this.waiting(`transaction on shard ${shard.name}`, async () => {
      const r = await shard.client.kvTxn({
        compare: [
          ...keys.map((k) => (shared.has(k) ? kvOps.compare('value', lockKey(k), '=', shared.get(k)!) : kvOps.compare('create', lockKey(k), '=', 0))),
          ...mine.map((c) => (c.value === undefined ? kvOps.compare('create', c.key, '=', 0) : kvOps.compare('value', c.key, '=', c.value))),
          ...also,
        ],
        success,
        failure: keys.map((k) => kvOps.get(lockKey(k))),
      });
      if (r.succeeded) return true;
      const found = keys.map((k, i) => ({ key: k, lock: txnRangeKvs(r, i)[0]?.value }));
      // A shared read lock that went (or changed) is no longer required: try again without it.
      let unshared = false;
      for (const x of found) {
        if (shared.has(x.key) && shared.get(x.key) !== x.lock) {
          shared.delete(x.key);
          unshared = true;
        }
      }
      const others = found.filter((x) => x.lock !== undefined && x.lock !== ownLock(x.key) && x.lock !== shared.get(x.key));
      if (others.length === 0) {
        if (!unshared) return false; // no other lock in the way: a compare failed
        await this.opts.sleep(1);
        return undefined;
      }
      for (const x of others) {
        const lock = x.lock as string;
        // A read lock whose transaction may still commit (blocksReads: no write lock, not past its
        // deadline) is shared; one past it is settled, as a read settles it.
        if (readOnly.has(x.key) && !this.blocksReads(lock)) shared.set(x.key, lock);
        else await this.resolve(shard, x.key, lock);
      }
      return undefined;
    });
  }

  /** Creates the transaction's record as `outcome` unless it exists; answers the outcome that stands. */
  private async decide(primary: Shard, txn: string, outcome: 'committed' | 'aborted'): Promise<'committed' | 'aborted'> {
    const r = await primary.client.kvTxn({ compare: [kvOps.compare('create', recordKey(txn), '=', 0)], success: [kvOps.put(recordKey(txn), outcome)], failure: [kvOps.get(recordKey(txn))] });
    if (r.succeeded) return outcome;
    return txnRangeKvs(r, 0)[0]?.value === 'committed' ? 'committed' : 'aborted';
  }

  /** Applies a committed transaction's locks on one shard: each key takes its value and loses its lock, if the lock is still there. */
  private async apply(shard: Shard, locks: readonly { key: string; lock: string }[]): Promise<void> {
    for (const { key, lock } of locks) {
      const l = JSON.parse(lock) as Lock;
      const ops: RequestOp[] = l.op === 'put' ? [kvOps.put(key, l.value ?? '')] : l.op === 'delete' ? [kvOps.del(key)] : [];
      await shard.client.kvTxn({ compare: [kvOps.compare('value', lockKey(key), '=', lock)], success: [...ops, kvOps.del(lockKey(key))] });
    }
  }

  private async dropLock(shard: Shard, key: string, lock: string): Promise<void> {
    await shard.client.kvTxn({ compare: [kvOps.compare('value', lockKey(key), '=', lock)], success: [kvOps.del(lockKey(key))] });
  }

  /**
   * Settles another transaction's lock on `key`: rolled forward if its record says committed,
   * dropped if aborted; if it has no record yet, waited for until the lock's deadline, then the
   * transaction is aborted (the record's create decides against a late commit).
   */
  private async resolve(shard: Shard, key: string, lockValue: string): Promise<void> {
    const lock = JSON.parse(lockValue) as Lock;
    const primary = this.map.byName(lock.primary);
    const record = (await primary.client.kvRange(recordKey(lock.txn))).kvs[0];
    let outcome = record === undefined ? undefined : utf8(record.value);
    if (outcome === undefined) {
      const left = lock.deadline - this.opts.now();
      if (left > 0) {
        await this.opts.sleep(Math.max(1, Math.min(left, 100)));
        return;
      }
      outcome = await this.decide(primary, lock.txn, 'aborted');
    }
    if (outcome === 'committed') await this.apply(shard, [{ key, lock: lockValue }]);
    else await this.dropLock(shard, key, lockValue);
  }
}

/** Another client aborted the transaction first (it outlived its lock TTL): nothing took effect; it may be run again. */
export class TransactionAbortedError extends Error {
  override name = 'TransactionAbortedError';
}

function checkKey(key: string): string {
  if (key === '') throw new Error('a key must not be empty');
  if (key.startsWith(internalPrefix)) throw new Error(`keys under ${internalPrefix} belong to the transactions`);
  return key;
}
