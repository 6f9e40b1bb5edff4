import BTree from 'sorted-btree';
import { DomainError } from '../errors/DomainError';
import { emptyValue, storedValue } from './storedValue';
import { KeyValue, KvEvent, RangeQuery, RangeResult } from './types';

export interface Version {
  readonly kv: KeyValue;
  readonly deleted: boolean; // a tombstone: the key was deleted at kv.modRevision
}

/**
 * What a version costs the store beyond its key's characters and its value's bytes: its
 * objects, its event and its place in the indexes, and the strings' headers (a heap snapshot
 * after loading 200,000 keys showed about 300 bytes of objects per key; rounded up).
 */
export const versionOverheadBytes = 384;

/** The bytes a version of `key` holding `valueLength` bytes counts for (see MvccStore.bytes). */
export const versionBytes = (key: string, valueLength: number): number => key.length + valueLength + versionOverheadBytes;

/**
 * Multi-version key-value data with a global revision, like etcd's mvcc: every change gets the
 * next revision, old versions stay readable until compacted, and every revision's events are
 * kept for watchers. Pure and deterministic: the same commands give the same state everywhere.
 */
export class MvccStore {
  revision = 0;
  compactRevision = 0;
  private readonly history = new Map<string, Version[]>();
  /** Every key with history, in order (a B+ tree: inserting a key is O(log n), not a move of all). */
  private keyIndex = new BTree<string, undefined>(undefined, compareKeys);
  /**
   * Keys compaction may change: those with more than one version (a tombstone always follows
   * a live version). A key with one version keeps it through any compaction, so compaction
   * visits these only (at 200,000 keys, visiting every key held the loop for 200 ms every
   * 10,000 revisions).
   */
  private readonly compactable = new Set<string>();
  private readonly events: { revision: number; events: KvEvent[] }[] = [];
  private size = 0;
  private pending: KvEvent[] = [];
  private pendingRevision = 0;

  /**
   * The store's size: every version it keeps (history back to the compaction), each counted as
   * its key's characters, its value's bytes and `versionOverheadBytes`. The same on every voter.
   */
  get bytes(): number {
    return this.size;
  }

  /** Starts a write transaction: changes until `commit` share one revision. */
  begin(): void {
    this.pending = [];
    this.pendingRevision = this.revision + 1;
  }

  /** Ends the write transaction; the revision advances only if something changed. */
  commit(): void {
    if (this.pending.length === 0) return;
    this.revision = this.pendingRevision;
    this.events.push({ revision: this.revision, events: this.pending });
    this.pending = [];
  }

  /** The revision of the open transaction if it changed something, else the current one. */
  pendingOrCurrent(): number {
    return this.pending.length > 0 ? this.pendingRevision : this.revision;
  }

  assertNothingPending(): void {
    if (this.pending.length > 0) throw new Error('MvccStore: a refused command left pending writes (a check ran too late)');
  }

  get(key: string): KeyValue | undefined {
    const versions = this.history.get(key);
    const last = versions?.[versions.length - 1];
    return last === undefined || last.deleted ? undefined : last.kv;
  }

  put(key: string, value: Uint8Array, lease: number): KeyValue | undefined {
    const prev = this.get(key);
    const kv: KeyValue = {
      key,
      value: storedValue(value),
      createRevision: prev?.createRevision ?? this.pendingRevision,
      modRevision: this.pendingRevision,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    const version: Version = { kv, deleted: false };
    this.size += versionBytes(key, kv.value.length);
    const versions = this.history.get(key);
    if (versions === undefined) {
      // A literal of one: `[]` then push reserves room for 17 (130 bytes a key, most never used).
      this.history.set(key, [version]);
      this.keyIndex.set(key, undefined);
    } else {
      versions.push(version);
      this.compactable.add(key);
    }
    this.pending.push({ type: 'put', kv, prevKv: prev });
    return prev;
  }

  /** Deletes every live key in the range; returns what was deleted. */
  deleteRange(key: string, rangeEnd: string): KeyValue[] {
    const deleted: KeyValue[] = [];
    for (const k of this.keysIn(key, rangeEnd)) {
      const prev = this.get(k);
      if (prev === undefined) continue;
      const tomb: KeyValue = { key: k, value: emptyValue, createRevision: 0, modRevision: this.pendingRevision, version: 0, lease: 0 };
      (this.history.get(k) as Version[]).push({ kv: tomb, deleted: true });
      this.size += versionBytes(k, 0);
      this.compactable.add(k);
      this.pending.push({ type: 'delete', kv: tomb, prevKv: prev });
      deleted.push(prev);
    }
    return deleted;
  }

  range(q: RangeQuery): RangeResult {
    const at = q.revision === 0 ? this.revision : q.revision;
    if (q.revision !== 0 && q.revision < this.compactRevision) {
      throw new DomainError('out-of-range', `revision ${q.revision} has been compacted (compacted up to ${this.compactRevision})`);
    }
    if (at > this.revision) throw new DomainError('out-of-range', `revision ${at} is in the future (current ${this.revision})`);
    const kvs: KeyValue[] = [];
    let count = 0;
    for (const k of this.keysIn(q.key, q.rangeEnd)) {
      const kv = this.versionAt(k, at);
      if (kv === undefined) continue;
      count++;
      if (q.countOnly || (q.limit > 0 && kvs.length >= q.limit)) continue;
      kvs.push(q.keysOnly ? { ...kv, value: emptyValue } : kv);
    }
    return { kvs, more: q.limit > 0 && count > kvs.length, count };
  }

  /** Events of every revision >= `from`, oldest first. */
  eventsSince(from: number): { revision: number; events: KvEvent[] }[] {
    if (from > 0 && from <= this.compactRevision) {
      throw new DomainError('out-of-range', `revision ${from} has been compacted (compacted up to ${this.compactRevision})`);
    }
    return this.events.slice(this.firstEventFrom(from));
  }

  /** Index of the first kept revision's events at or after `revision`. */
  private firstEventFrom(revision: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.events[mid] as { revision: number }).revision < revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops versions and events no read at >= `revision` can see. */
  compact(revision: number): void {
    if (revision <= this.compactRevision) {
      throw new DomainError('out-of-range', `revision ${revision} is already compacted (compacted up to ${this.compactRevision})`);
    }
    if (revision > this.revision) throw new DomainError('out-of-range', `revision ${revision} is in the future (current ${this.revision})`);
    for (const key of this.compactable) {
      const versions = this.history.get(key) as Version[];
      let keepFrom = 0;
      for (let i = 0; i < versions.length; i++) if ((versions[i] as Version).kv.modRevision <= revision) keepFrom = i;
      let kept = versions.slice(keepFrom);
      if (kept[0]?.deleted === true && (kept[0] as Version).kv.modRevision <= revision) kept = kept.slice(1);
      for (let i = 0; i < versions.length - kept.length; i++) this.size -= versionBytes(key, (versions[i] as Version).kv.value.length);
      if (kept.length === 0) {
        this.history.delete(key);
        this.keyIndex.delete(key);
      } else this.history.set(key, kept);
      if (kept.length <= 1) this.compactable.delete(key);
    }
    // One splice: shifting a large array once per dropped revision moved it every time.
    this.events.splice(0, this.firstEventFrom(revision + 1));
    this.compactRevision = revision;
  }

  /** Live keys in [key, rangeEnd) (just `key` when rangeEnd is empty; '\0' = to the end). */
  *keysIn(key: string, rangeEnd: string): Iterable<string> {
    if (rangeEnd === '') {
      if (this.history.has(key)) yield key;
      return;
    }
    for (const k of this.keyIndex.keys(key)) {
      if (rangeEnd !== '\u0000' && k >= rangeEnd) return;
      yield k;
    }
  }

  private versionAt(key: string, at: number): KeyValue | undefined {
    const versions = this.history.get(key) ?? [];
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i] as Version;
      if (v.kv.modRevision <= at) return v.deleted ? undefined : v.kv;
    }
    return undefined;
  }

  /**
   * Everything, for a snapshot. Events are not copied: each names the key whose version at
   * its revision it reports (restore finds the version, and the previous one as prevKv).
   *
   * The dump stays the state of this moment while the store changes on: versions are never
   * changed in place, a key's version list only grows at its end (compaction makes new lists),
   * so each key is dumped as its list and the count of versions it has now; a revision's
   * events never change either, so the event keys are listed from a copy of the outer list
   * when first asked for. So a snapshot is taken at once in O(keys), into three flat arrays
   * (a tuple per key took 3-10 times longer at 200,000 keys), and encoded later, in parts
   * (see encodeKvStateInParts).
   */
  dump(): MvccDump {
    const n = this.history.size;
    const keys = new Array<string>(n);
    const lists = new Array<readonly Version[]>(n);
    const counts = new Uint32Array(n);
    let i = 0;
    for (const [key, versions] of this.history) {
      keys[i] = key;
      lists[i] = versions;
      counts[i] = versions.length;
      i++;
    }
    const batches = this.events.slice();
    let eventKeys: MvccDump['eventKeys'] | undefined;
    return {
      revision: this.revision,
      compactRevision: this.compactRevision,
      keys,
      lists,
      counts,
      get eventKeys() {
        return (eventKeys ??= batches.map((e) => ({ revision: e.revision, keys: e.events.map((ev) => ev.kv.key) })));
      },
    };
  }

  static restore(d: MvccDump): MvccStore {
    const s = new MvccStore();
    s.revision = d.revision;
    s.compactRevision = d.compactRevision;
    d.keys.forEach((k, i) => {
      const versions = (d.lists[i] as readonly Version[]).slice(0, d.counts[i]);
      s.history.set(k, versions);
      for (const v of versions) s.size += versionBytes(k, v.kv.value.length);
      if (versions.length > 1) s.compactable.add(k);
    });
    s.keyIndex = new BTree<string, undefined>(d.keys.map((k): [string, undefined] => [k, undefined]), compareKeys);
    for (const { revision, keys } of d.eventKeys) {
      const seen = new Map<string, number>();
      const events = keys.map((key): KvEvent => {
        const versions = s.history.get(key) ?? [];
        const nth = seen.get(key) ?? 0;
        seen.set(key, nth + 1);
        const i = firstAtRevision(versions, revision) + nth;
        const v = versions[i];
        if (v === undefined || v.kv.modRevision !== revision) throw new Error(`snapshot: no version of ${key} at revision ${revision} for its event`);
        const prev = versions[i - 1];
        return { type: v.deleted ? 'delete' : 'put', kv: v.kv, prevKv: prev === undefined || prev.deleted ? undefined : prev.kv };
      });
      s.events.push({ revision, events });
    }
    return s;
  }
}

export interface MvccDump {
  readonly revision: number;
  readonly compactRevision: number;
  /** Every key with history, and for each its version list and how many of them belong to the dump. */
  readonly keys: readonly string[];
  readonly lists: readonly (readonly Version[])[];
  readonly counts: ArrayLike<number>;
  /** Per kept revision, the keys of its events in order. */
  readonly eventKeys: readonly { readonly revision: number; readonly keys: readonly string[] }[];
}

/** Index of the first version with modRevision >= revision (versions are in revision order). */
function firstAtRevision(versions: readonly Version[], revision: number): number {
  let lo = 0;
  let hi = versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((versions[mid] as Version).kv.modRevision < revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Keys in UTF-16 code unit order (as `<` compares strings). */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
