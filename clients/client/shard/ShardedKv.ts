import { randomUUID } from 'node:crypto';
import type { RequestOp, TxnResponse } from '../../../proto/gen/concord/v1/kv';
import { kvOps } from '../kvOps';
import { Shard, ShardMap } from './ShardMap';

/** Keys the transactions keep on each shard: a key's lock, and on a transaction's primary shard its record. */
export const internalPrefix = '__2pc/';
const lockKey = (key: string): string => `${internalPrefix}lock/${key}`;
const recordKey = (txn: string): string => `${internalPrefix}txn/${txn}`;

/** A transaction's lock on one key: what it will write there once committed, and where its record is. */
interface Lock {
  readonly txn: string;
  readonly primary: string;
  /** When it was taken (ms): past `lockTtlMs`, a transaction not yet committed may be aborted by anyone. */
  readonly at: number;
  readonly op: 'put' | 'delete' | 'read';
  readonly value?: string;
}

export interface ShardedKvOptions {
  /** How long a lock of an undecided transaction is waited for before anyone may abort it (default 5 s). */
  readonly lockTtlMs?: number;
  /** Tries of one prepare (or read) that meets other transactions' locks (default 50). */
  readonly triesMax?: number;
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

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

function rangeKvs(r: TxnResponse, i: number): { key: string; value: string; modRevision: bigint }[] {
  const op = r.responses[i]?.response;
  return op?.$case === 'responseRange' ? op.value.kvs.map((kv) => ({ key: kv.key, value: text(kv.value), modRevision: kv.modRevision })) : [];
}

/**
 * A key-value store sharded by key ranges over several Concord clusters (ShardMap), with
 * transactions across shards by two-phase commit, coordinated by the client as Percolator does
 * over Bigtable: each shard's own compare-and-set transactions are the only primitive.
 *
 * - Prepare: on every shard a transaction touches, one local transaction checks its compares and
 *   that no other transaction holds a lock on its keys, and writes a lock on each (naming the
 *   transaction, its primary shard and the value it will write).
 * - Commit point: the transaction's record on its primary shard, created `committed` only if
 *   absent. Anyone who finds a lock of a transaction whose record is absent and whose lock is
 *   older than `lockTtlMs` may create the record `aborted` instead; the create decides, once.
 * - Apply: on each shard, the locked keys take their values and the locks go (each step
 *   compare-and-set on the lock). A coordinator that crashed after the commit point leaves
 *   locks that any later reader or writer rolls forward; one that crashed before, locks that are
 *   rolled back once they are old.
 *
 * Reads resolve the locks they meet first, so they never see half a transaction. Keys written
 * through transactions must be written only through ShardedKv (a plain put would bypass the
 * locks), and keys under `__2pc/` are its own.
 */
export class ShardedKv {
  private readonly opts: Required<Omit<ShardedKvOptions, 'failpoint'>> & Pick<ShardedKvOptions, 'failpoint'>;

  constructor(readonly map: ShardMap, options: ShardedKvOptions = {}) {
    this.opts = {
      lockTtlMs: options.lockTtlMs ?? 5000,
      triesMax: options.triesMax ?? 50,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      failpoint: options.failpoint,
    };
  }

  /** The value of `key` (undefined: absent), after resolving a transaction's lock on it. */
  async get(key: string): Promise<string | undefined> {
    checkKey(key);
    const shard = this.map.shardOf(key);
    for (let tries = 0; tries < this.opts.triesMax; tries++) {
      const r = await shard.client.kvTxn({ compare: [], success: [kvOps.get(key), kvOps.get(lockKey(key))] });
      const lock = rangeKvs(r, 1)[0];
      if (lock === undefined || (JSON.parse(lock.value) as Lock).op === 'read') return rangeKvs(r, 0)[0]?.value;
      await this.resolve(shard, key, lock.value);
    }
    throw new Error(`get ${key}: a transaction kept it locked through ${this.opts.triesMax} tries`);
  }

  /** Keys in [key, rangeEnd) over every shard the range spans, in key order ('\u0000': every key from `key` on). */
  async range(key: string, rangeEnd: string): Promise<{ key: string; value: string }[]> {
    const out: { key: string; value: string }[] = [];
    for (const part of this.map.shardsOf(key, rangeEnd)) {
      for (let tries = 0; ; tries++) {
        if (tries >= this.opts.triesMax) throw new Error(`range ${key}: transactions kept it locked through ${this.opts.triesMax} tries`);
        const lockEnd = part.rangeEnd === '\u0000' ? `${internalPrefix}lock0` : lockKey(part.rangeEnd);
        const r = await part.shard.client.kvTxn({ compare: [], success: [kvOps.get(part.key, { rangeEnd: part.rangeEnd }), kvOps.get(lockKey(part.key), { rangeEnd: lockEnd })] });
        const locks = rangeKvs(r, 1).filter((l) => (JSON.parse(l.value) as Lock).op !== 'read');
        if (locks.length === 0) {
          out.push(...rangeKvs(r, 0).filter((kv) => !kv.key.startsWith(internalPrefix)).map(({ key: k, value }) => ({ key: k, value })));
          break;
        }
        for (const l of locks) await this.resolve(part.shard, l.key.slice(lockKey('').length), l.value);
      }
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
   * every write took effect), false when a compare failed (nothing took effect).
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
    const writes = [...ops.keys()].filter((k) => ops.get(k) !== 'read');
    const primary = this.map.shardOf(writes[0] ?? [...ops.keys()][0]!);
    const at = this.opts.now();
    const lockOf = (key: string): string => JSON.stringify({ txn, primary: primary.name, at, op: ops.get(key) ?? 'read', ...(values.has(key) ? { value: values.get(key) } : {}) } satisfies Lock);
    // Shards in key order, so two transactions meet each other's locks in the same order.
    const byShard = new Map<Shard, string[]>();
    for (const s of this.map.shards) {
      const keys = [...ops.keys()].filter((k) => this.map.shardOf(k) === s).sort();
      if (keys.length > 0) byShard.set(s, keys);
    }
    const prepared: Shard[] = [];
    const release = async (): Promise<void> => {
      for (const s of prepared) for (const k of byShard.get(s)!) await this.dropLock(s, k, lockOf(k));
    };
    for (const [shard, keys] of byShard) {
      const ok = await this.prepare(shard, keys, t.compares ?? [], lockOf);
      if (ok) {
        prepared.push(shard);
        continue;
      }
      // A compare failed: abort (the record says so, in case someone met our locks meanwhile).
      await this.decide(primary, txn, 'aborted');
      await release();
      return false;
    }
    this.opts.failpoint?.('prepared');
    const decided = await this.decide(primary, txn, 'committed');
    if (decided !== 'committed') {
      // Someone found our locks old and aborted us first: roll back what is left of them.
      await release();
      return false;
    }
    this.opts.failpoint?.('decided');
    for (const [shard, keys] of byShard) {
      await this.apply(shard, keys.map((k) => ({ key: k, lock: lockOf(k) })));
      this.opts.failpoint?.('applied-one');
    }
    return true;
  }

  /** Checks this shard's compares and takes locks on its keys in one local transaction; false when a compare failed. */
  private async prepare(shard: Shard, keys: readonly string[], compares: ShardedTxn['compares'] & object, lockOf: (key: string) => string): Promise<boolean> {
    const mine = compares.filter((c) => keys.includes(c.key));
    for (let tries = 0; tries < this.opts.triesMax; tries++) {
      const r = await shard.client.kvTxn({
        compare: [
          ...keys.map((k) => kvOps.compare('create', lockKey(k), '=', 0)),
          ...mine.map((c) => (c.value === undefined ? kvOps.compare('create', c.key, '=', 0) : kvOps.compare('value', c.key, '=', c.value))),
        ],
        success: keys.map((k) => kvOps.put(lockKey(k), lockOf(k))),
        failure: keys.map((k) => kvOps.get(lockKey(k))),
      });
      if (r.succeeded) return true;
      const held = keys.map((k, i) => ({ key: k, lock: rangeKvs(r, i)[0] })).filter((x) => x.lock !== undefined);
      // Ours already (an earlier try whose answer was lost): prepared.
      if (held.length === keys.length && held.every((x) => x.lock!.value === lockOf(x.key))) return true;
      const others = held.filter((x) => x.lock!.value !== lockOf(x.key));
      if (others.length === 0) return false; // no other lock in the way: a compare failed
      for (const x of others) await this.resolve(shard, x.key, x.lock!.value);
    }
    throw new Error(`transaction: keys on shard ${shard.name} stayed locked by others through ${this.opts.triesMax} tries`);
  }

  /** Creates the transaction's record as `outcome` unless it exists; answers the outcome that stands. */
  private async decide(primary: Shard, txn: string, outcome: 'committed' | 'aborted'): Promise<'committed' | 'aborted'> {
    const r = await primary.client.kvTxn({ compare: [kvOps.compare('create', recordKey(txn), '=', 0)], success: [kvOps.put(recordKey(txn), outcome)], failure: [kvOps.get(recordKey(txn))] });
    if (r.succeeded) return outcome;
    return rangeKvs(r, 0)[0]?.value === 'committed' ? 'committed' : 'aborted';
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
   * dropped if aborted; if it has no record yet, waited for while the lock is young, and aborted
   * once it is old (the record's create decides against a late commit).
   */
  private async resolve(shard: Shard, key: string, lockValue: string): Promise<void> {
    const lock = JSON.parse(lockValue) as Lock;
    const primary = this.map.byName(lock.primary);
    const record = (await primary.client.kvRange(recordKey(lock.txn))).kvs[0];
    let outcome = record === undefined ? undefined : text(record.value);
    if (outcome === undefined) {
      if (this.opts.now() - lock.at < this.opts.lockTtlMs) {
        await this.opts.sleep(Math.max(1, Math.min(50, this.opts.lockTtlMs / 20)));
        return;
      }
      outcome = await this.decide(primary, lock.txn, 'aborted');
    }
    if (outcome === 'committed') await this.apply(shard, [{ key, lock: lockValue }]);
    else await this.dropLock(shard, key, lockValue);
  }
}

function checkKey(key: string): string {
  if (key === '') throw new Error('a key must not be empty');
  if (key.startsWith(internalPrefix)) throw new Error(`keys under ${internalPrefix} belong to the transactions`);
  return key;
}
