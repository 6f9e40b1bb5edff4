// Safety checkers for the Raft simulator. Each records one canonical history and throws a
// SafetyViolation the moment any node disagrees with it:
//   election safety   at most one leader per term (§5.2)
//   log matching      two logs with the same (index, term) agree on everything up to it (§5.3)
//   commit history    an index, once committed anywhere, always holds the same entry, and stays
//                     durable on a majority (§5.4, and the persist-before-send contract)
//   state machine     every node applies the same entry at each index, in order (§5.4.3)
//   read index        a read point covers every index committed before the read began (§6.4)

import type { Entry, MemoryRaftStorage, NodeId, Snapshot } from '../../../services/core/consensus';

export class SafetyViolation extends Error {
  constructor(
    readonly checker: string,
    detail: string,
  ) {
    super(`${checker}: ${detail}`);
  }
}

const dec = new TextDecoder();

/** A compact, comparable description of an entry. */
export function entryKey(e: Entry): string {
  return `${e.term}/${e.index}/${e.kind}/${dec.decode(e.data)}`;
}

export class ElectionSafety {
  private readonly leaders = new Map<number, NodeId>();

  observeLeader(id: NodeId, term: number): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) {
      throw new SafetyViolation('election safety', `term ${term} has two leaders: ${prev} and ${id}`);
    }
    this.leaders.set(term, id);
  }

  leaderCount(): number {
    return this.leaders.size;
  }
}

/** Durable log of one node as a dense array view (for pairwise comparison). */
function readLog(s: MemoryRaftStorage): { first: number; entries: readonly Entry[] } {
  const first = s.firstIndex();
  const r = s.entries(first, s.lastIndex() + 1, Number.POSITIVE_INFINITY);
  if (!r.ok) throw new Error('durable log compacted while reading it');
  return { first, entries: r.entries };
}

export function checkLogMatching(logs: ReadonlyMap<NodeId, MemoryRaftStorage>): void {
  const views = [...logs].map(([id, s]) => ({ id, ...readLog(s) }));
  for (let a = 0; a < views.length; a++) {
    for (let b = a + 1; b < views.length; b++) {
      const A = views[a];
      const B = views[b];
      if (A === undefined || B === undefined) continue;
      const lo = Math.max(A.first, B.first);
      const hi = Math.min(A.first + A.entries.length - 1, B.first + B.entries.length - 1);
      // Find the highest index where both logs hold the same term...
      let top = -1;
      for (let i = hi; i >= lo; i--) {
        if (A.entries[i - A.first]?.term === B.entries[i - B.first]?.term) {
          top = i;
          break;
        }
      }
      // ...then everything from the common start up to it must be identical.
      for (let i = lo; i <= top; i++) {
        const ea = A.entries[i - A.first];
        const eb = B.entries[i - B.first];
        if (ea === undefined || eb === undefined || entryKey(ea) !== entryKey(eb)) {
          throw new SafetyViolation(
            'log matching',
            `${A.id} and ${B.id} agree on term at ${top} but differ at ${i}: ` +
              `${ea === undefined ? '-' : entryKey(ea)} vs ${eb === undefined ? '-' : entryKey(eb)}`,
          );
        }
      }
    }
  }
}

export class CommitHistory {
  /** index -> entry key of every index any node has durably marked committed. */
  private readonly committed = new Map<number, string>();
  private readonly committedTerm = new Map<number, number>();
  private maxCommitted = 0;
  private readonly checkedUpTo = new Map<NodeId, number>();

  /** Highest index known committed anywhere (a lower bound for read points). */
  highest(): number {
    return this.maxCommitted;
  }

  /** A node durably recorded commit index `commit`; compare its entries with history. */
  observeCommit(id: NodeId, commit: number, storage: MemoryRaftStorage): void {
    const from = Math.max(this.checkedUpTo.get(id) ?? 0, storage.firstIndex() - 1) + 1;
    for (let i = from; i <= commit; i++) {
      const r = storage.entries(i, i + 1, Number.POSITIVE_INFINITY);
      const e = r.ok ? r.entries[0] : undefined;
      if (e === undefined) throw new SafetyViolation('commit history', `${id} committed ${i} but does not store it`);
      this.record(id, i, e.term, entryKey(e));
    }
    this.checkedUpTo.set(id, Math.max(this.checkedUpTo.get(id) ?? 0, commit));
    this.maxCommitted = Math.max(this.maxCommitted, commit);
  }

  /** A node restored a snapshot: its last entry is committed and must match history. */
  observeSnapshot(id: NodeId, s: Snapshot): void {
    const t = this.committedTerm.get(s.index);
    if (t !== undefined && t !== s.term) {
      throw new SafetyViolation('commit history', `${id} restored snapshot ${s.term}/${s.index} but ${t}/${s.index} was committed`);
    }
    this.checkedUpTo.set(id, Math.max(this.checkedUpTo.get(id) ?? 0, s.index));
    this.maxCommitted = Math.max(this.maxCommitted, s.index);
  }

  private record(id: NodeId, index: number, term: number, key: string): void {
    const known = this.committed.get(index);
    if (known !== undefined && known !== key) {
      throw new SafetyViolation('commit history', `${id} committed ${key} at ${index}, but ${known} was committed there`);
    }
    this.committed.set(index, key);
    this.committedTerm.set(index, term);
  }

  /**
   * Every committed index must still be durable on a majority of voters: in their log with
   * the committed term, or covered by their snapshot. A crash may only lose what was never
   * acknowledged.
   */
  checkDurable(storages: ReadonlyMap<NodeId, MemoryRaftStorage>, voters: readonly NodeId[]): void {
    const quorum = Math.floor(voters.length / 2) + 1;
    for (const [index, term] of this.committedTerm) {
      let holders = 0;
      for (const id of voters) {
        const s = storages.get(id);
        if (s === undefined) continue;
        if (s.snapshot().index >= index) holders++;
        else {
          const t = s.term(index);
          if (t.ok && t.term === term) holders++;
        }
      }
      if (holders < quorum) {
        throw new SafetyViolation('commit durability', `committed ${term}/${index} is durable on only ${holders} of ${voters.length}`);
      }
    }
  }
}

/** State machine safety: the same entry is applied at each index everywhere. */
export class AppliedHistory {
  private readonly applied = new Map<number, string>();
  private readonly hashes = new Map<number, number>();

  observeApply(id: NodeId, e: Entry, hashAfter: number): void {
    const key = entryKey(e);
    const known = this.applied.get(e.index);
    if (known !== undefined && known !== key) {
      throw new SafetyViolation('state machine safety', `${id} applied ${key} at ${e.index}, others applied ${known}`);
    }
    this.applied.set(e.index, key);
    this.checkHash(id, e.index, hashAfter);
  }

  /** A state restored from a snapshot must equal the state others had at that index. */
  checkHash(id: NodeId, index: number, hash: number): void {
    const known = this.hashes.get(index);
    if (known !== undefined && known !== hash) {
      throw new SafetyViolation('state machine safety', `${id} state at ${index} is ${hash}, others had ${known}`);
    }
    this.hashes.set(index, hash);
  }
}

/** ReadIndex: the read point must not be older than anything committed when the read began. */
export class ReadIndexChecker {
  private readonly pending = new Map<string, { id: NodeId; minIndex: number }>();

  begin(context: string, id: NodeId, committedSoFar: number): void {
    this.pending.set(context, { id, minIndex: committedSoFar });
  }

  complete(context: string, id: NodeId, index: number): void {
    const p = this.pending.get(context);
    if (p === undefined) return; // duplicate answer, or asked before a crash
    this.pending.delete(context);
    if (p.id !== id) throw new SafetyViolation('read index', `read ${context} asked at ${p.id} answered at ${id}`);
    if (index < p.minIndex) {
      throw new SafetyViolation('read index', `read ${context} got index ${index} but ${p.minIndex} was committed before it began`);
    }
  }

  forget(id: NodeId): void {
    for (const [ctx, p] of this.pending) if (p.id === id) this.pending.delete(ctx);
  }
}
