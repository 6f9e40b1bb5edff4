// Proves the log view: terms across durable and unstable parts, the AppendEntries consistency
// check with conflict truncation (§5.3), fast-backtracking lookups, size-limited slices,
// stabilisation after persistence, snapshot restore, and the latest-configuration tracking.

import {
  asNodeId,
  encodeClusterConfig,
  MemoryRaftStorage,
  type ClusterConfig,
  type Entry,
} from '../../../services/core/consensus';
import { RaftLog } from '../../../services/core/consensus/RaftLog';

const n = asNodeId;
const base: ClusterConfig = { voters: [n('n1'), n('n2'), n('n3')], learners: [] };
const e = (term: number, index: number, data = 'x'): Entry => ({
  term,
  index,
  kind: 'normal',
  data: new TextEncoder().encode(data),
});
const cfg = (term: number, index: number, c: ClusterConfig): Entry => ({
  term,
  index,
  kind: 'config',
  data: encodeClusterConfig(c),
});

/** A log whose storage holds `stored` and whose unstable tail holds `unstable`. */
function makeLog(stored: Entry[], unstable: Entry[] = []): { log: RaftLog; storage: MemoryRaftStorage } {
  const storage = new MemoryRaftStorage(base);
  storage.append(stored);
  const log = new RaftLog(storage);
  log.append(unstable);
  return { log, storage };
}

describe('RaftLog terms and bounds', () => {
  it('reads terms from storage and from the unstable tail', () => {
    const { log } = makeLog([e(1, 1), e(1, 2)], [e(2, 3)]);
    expect([0, 1, 2, 3, 4].map((i) => log.term(i))).toEqual([0, 1, 1, 2, undefined]);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(3);
    expect(log.lastTerm()).toBe(2);
  });

  it('reports compacted indexes as unknown', () => {
    const { storage } = makeLog([e(1, 1), e(1, 2), e(2, 3)]);
    storage.createSnapshot(2, base, new Uint8Array());
    storage.compact(2);
    const log = new RaftLog(storage);
    expect(log.term(1)).toBeUndefined();
    expect(log.term(2)).toBe(1);
    expect(log.slice(2, 4, 100)).toBeNull();
  });

  // §5.4.1: compare last terms first, then lengths.
  it.each([
    [3, 2, true],
    [2, 2, false],
    [4, 1, false],
    [1, 3, true],
    [1, 2, false],
  ])('isUpToDate(lastIndex=%i, lastTerm=%i) against a log ending 2/3 is %s', (li, lt, want) => {
    const { log } = makeLog([e(1, 1), e(2, 2), e(2, 3)]);
    expect(log.isUpToDate(li, lt)).toBe(want);
  });
});

describe('RaftLog.maybeAppend (§5.3)', () => {
  it('rejects when the previous entry does not match', () => {
    const { log } = makeLog([e(1, 1), e(1, 2)]);
    expect(log.maybeAppend(2, 2, 0, [e(2, 3)])).toBeNull();
    expect(log.maybeAppend(3, 1, 0, [e(2, 4)])).toBeNull();
  });

  it('appends new entries and commits up to min(leaderCommit, last new)', () => {
    const { log } = makeLog([e(1, 1), e(1, 2)]);
    expect(log.maybeAppend(2, 1, 10, [e(2, 3), e(2, 4)])).toBe(4);
    expect(log.committed).toBe(4);
    expect(log.lastIndex()).toBe(4);
  });

  it('is idempotent for entries it already has (a duplicated or reordered message)', () => {
    const { log } = makeLog([e(1, 1), e(1, 2), e(1, 3)]);
    expect(log.maybeAppend(1, 1, 0, [e(1, 2)])).toBe(2);
    expect(log.lastIndex()).toBe(3); // A stale, shorter append never truncates a matching tail.
  });

  it('truncates a conflicting uncommitted tail', () => {
    const { log } = makeLog([e(1, 1), e(1, 2), e(1, 3), e(1, 4)]);
    expect(log.maybeAppend(1, 1, 0, [e(2, 2), e(2, 3)])).toBe(3);
    expect(log.lastIndex()).toBe(3);
    expect([1, 2, 3].map((i) => log.term(i))).toEqual([1, 2, 2]);
  });

  it('refuses to overwrite a committed entry (a safety violation, so it throws)', () => {
    const { log } = makeLog([e(1, 1), e(1, 2)]);
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 2, [e(3, 2)])).toThrow(/conflicts with committed/);
  });
});

describe('RaftLog.findConflictByTerm', () => {
  // Log terms by index: 1:1 2:1 3:2 4:2 5:4 6:4
  const ents = [e(1, 1), e(1, 2), e(2, 3), e(2, 4), e(4, 5), e(4, 6)];
  it.each([
    [6, 4, 6, 4],
    [6, 3, 4, 2],
    [6, 2, 4, 2],
    [6, 1, 2, 1],
    [6, 0, 0, 0],
    [3, 5, 3, 2],
    [9, 4, 6, 4], // beyond our log: start from our last index
  ])('(index=%i, term=%i) -> %i/%i', (index, term, wantIndex, wantTerm) => {
    const { log } = makeLog(ents);
    expect(log.findConflictByTerm(index, term)).toEqual({ index: wantIndex, term: wantTerm });
  });
});

describe('RaftLog slices, stabilisation and restore', () => {
  it('slices across the stored and unstable parts with a size limit', () => {
    const { log } = makeLog([e(1, 1, 'aa'), e(1, 2, 'bb')], [e(1, 3, 'cc'), e(1, 4, 'dd')]);
    expect(log.slice(1, 5, 100)?.map((x) => x.index)).toEqual([1, 2, 3, 4]);
    expect(log.slice(2, 5, 4)?.map((x) => x.index)).toEqual([2, 3]);
    expect(log.slice(3, 5, 0)?.map((x) => x.index)).toEqual([3]);
  });

  it('drops persisted entries from the unstable tail only if the term still matches', () => {
    const { log } = makeLog([e(1, 1)], [e(1, 2), e(1, 3)]);
    log.stableTo(3, 2); // wrong term: the tail was replaced after the Ready was taken
    expect(log.unstableEntries()).toHaveLength(2);
    log.stableTo(2, 1);
    expect(log.unstableEntries().map((x) => x.index)).toEqual([3]);
  });

  it('hands out committed entries once and never past commit', () => {
    const { log } = makeLog([e(1, 1), e(1, 2)], [e(1, 3)]);
    log.commitTo(2);
    expect(log.nextCommittedEntries(1000).map((x) => x.index)).toEqual([1, 2]);
    log.appliedTo(2);
    expect(log.hasNextCommittedEntries()).toBe(false);
    expect(() => log.appliedTo(3)).toThrow(/beyond committed/);
  });

  it('restores from a snapshot, after which the log starts right behind it', () => {
    const { log } = makeLog([e(1, 1), e(1, 2)]);
    const c: ClusterConfig = { voters: [n('n1'), n('n2')], learners: [n('n9')] };
    log.restore({ index: 10, term: 3, voters: c.voters, learners: c.learners, data: new Uint8Array() });
    expect(log.firstIndex()).toBe(11);
    expect(log.lastIndex()).toBe(10);
    expect(log.term(10)).toBe(3);
    expect(log.committed).toBe(10);
    expect(log.config()).toEqual(c);
    expect(log.maybeAppend(10, 3, 11, [e(3, 11)])).toBe(11);
  });
});

describe('RaftLog configuration tracking (thesis §4.1)', () => {
  const two: ClusterConfig = { voters: [n('n1'), n('n2')], learners: [] };
  const four: ClusterConfig = { voters: [n('n1'), n('n2'), n('n3'), n('n4')], learners: [] };

  it('uses the latest config entry in the log, committed or not', () => {
    const { log } = makeLog([e(1, 1)], [cfg(1, 2, four), e(1, 3)]);
    expect(log.config()).toEqual(four);
    expect(log.configIndex()).toBe(2);
  });

  it('falls back to the previous configuration when a config entry is truncated', () => {
    const { log } = makeLog([e(1, 1), cfg(1, 2, two)], [cfg(1, 3, four)]);
    expect(log.config()).toEqual(four);
    log.maybeAppend(2, 1, 0, [e(2, 3)]);
    expect(log.config()).toEqual(two);
    expect(log.configIndex()).toBe(2);
    log.maybeAppend(1, 1, 0, [e(3, 2)]);
    expect(log.config()).toEqual(base);
  });

  it('finds the configuration in the durable log after a restart', () => {
    const { storage } = makeLog([e(1, 1), cfg(1, 2, four), e(1, 3)]);
    expect(new RaftLog(storage).config()).toEqual(four);
  });
});
