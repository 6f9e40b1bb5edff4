// The acceptance suite every RaftStorage implementation must pass (memory now, disk-backed
// later). An implementation supplies a factory for an empty member and a way to apply the
// writes a shell performs after a Ready.

import type { ClusterConfig, Entry, HardState, RaftStorage, Snapshot } from '../../../services/core/consensus';
import { asNodeId } from '../../../services/core/consensus';

export interface StorageUnderTest {
  readonly storage: RaftStorage;
  setHardState(hs: HardState): void;
  append(entries: readonly Entry[]): void;
  applySnapshot(s: Snapshot): void;
  createSnapshot(index: number, config: ClusterConfig, data: Uint8Array): void;
  compact(index: number): void;
}

const e = (term: number, index: number, data = ''): Entry => ({
  term,
  index,
  kind: 'normal',
  data: new TextEncoder().encode(data),
});

export function raftStorageContract(name: string, make: (config: ClusterConfig) => StorageUnderTest): void {
  const config: ClusterConfig = { voters: ['n1', 'n2', 'n3'].map(asNodeId), learners: [] };

  describe(`RaftStorage contract: ${name}`, () => {
    it('starts empty with the bootstrap snapshot and an empty hard state', () => {
      const { storage } = make(config);
      expect(storage.firstIndex()).toBe(1);
      expect(storage.lastIndex()).toBe(0);
      expect(storage.term(0)).toEqual({ ok: true, term: 0 });
      expect(storage.term(1)).toEqual({ ok: false, reason: 'unavailable' });
      expect(storage.snapshot()).toMatchObject({ index: 0, term: 0, voters: config.voters, learners: [] });
      expect(storage.initialState()).toEqual({ term: 0, vote: null, commit: 0 });
    });

    it('persists the hard state', () => {
      const s = make(config);
      s.setHardState({ term: 3, vote: asNodeId('n2'), commit: 0 });
      expect(s.storage.initialState()).toEqual({ term: 3, vote: 'n2', commit: 0 });
    });

    it('appends, reads ranges and terms', () => {
      const s = make(config);
      s.append([e(1, 1), e(1, 2), e(2, 3)]);
      expect(s.storage.lastIndex()).toBe(3);
      expect(s.storage.term(3)).toEqual({ ok: true, term: 2 });
      const r = s.storage.entries(1, 4, Number.POSITIVE_INFINITY);
      expect(r.ok && r.entries.map((x) => x.index)).toEqual([1, 2, 3]);
    });

    it('limits a range by size but always returns at least one entry', () => {
      const s = make(config);
      s.append([e(1, 1, 'aaaa'), e(1, 2, 'bbbb'), e(1, 3, 'cccc')]);
      const one = s.storage.entries(1, 4, 1);
      expect(one.ok && one.entries.length).toBe(1);
      const two = s.storage.entries(1, 4, 8);
      expect(two.ok && two.entries.length).toBe(2);
    });

    it('replaces a conflicting tail on append', () => {
      const s = make(config);
      s.append([e(1, 1), e(1, 2), e(1, 3)]);
      s.append([e(2, 2)]);
      expect(s.storage.lastIndex()).toBe(2);
      expect(s.storage.term(2)).toEqual({ ok: true, term: 2 });
    });

    it('compacts behind a snapshot and keeps the compaction point term', () => {
      const s = make(config);
      s.append([e(1, 1), e(1, 2), e(2, 3), e(2, 4)]);
      s.createSnapshot(3, config, new Uint8Array([7]));
      s.compact(3);
      expect(s.storage.firstIndex()).toBe(4);
      expect(s.storage.lastIndex()).toBe(4);
      expect(s.storage.term(3)).toEqual({ ok: true, term: 2 });
      expect(s.storage.term(2)).toEqual({ ok: false, reason: 'compacted' });
      expect(s.storage.entries(3, 5, 100)).toEqual({ ok: false, reason: 'compacted' });
      expect(s.storage.snapshot()).toMatchObject({ index: 3, term: 2, data: new Uint8Array([7]) });
    });

    it('replaces everything with a snapshot from the leader', () => {
      const s = make(config);
      s.append([e(1, 1), e(1, 2)]);
      s.applySnapshot({ index: 10, term: 4, voters: config.voters, learners: [], data: new Uint8Array() });
      expect(s.storage.firstIndex()).toBe(11);
      expect(s.storage.lastIndex()).toBe(10);
      expect(s.storage.term(10)).toEqual({ ok: true, term: 4 });
      s.append([e(4, 11)]);
      expect(s.storage.lastIndex()).toBe(11);
    });
  });
}
