// Runs the RaftStorage contract against MemoryRaftStorage, plus its write-side assertions.

import { asNodeId, MemoryRaftStorage } from '../../../services/core/consensus';
import { raftStorageContract } from './raftStorage.contract';

raftStorageContract('MemoryRaftStorage', (config) => {
  const storage = new MemoryRaftStorage(config);
  return {
    storage,
    setHardState: (hs) => storage.setHardState(hs),
    append: (ents) => storage.append(ents),
    applySnapshot: (s) => void storage.applySnapshot(s),
    createSnapshot: (i, c, d) => void storage.createSnapshot(i, c, d),
    compact: (i) => storage.compact(i),
  };
});

describe('MemoryRaftStorage write-side assertions', () => {
  const config = { voters: [asNodeId('n1')], learners: [] };
  const entry = (term: number, index: number) => ({ term, index, kind: 'normal' as const, data: new Uint8Array() });

  it('refuses to append with a gap', () => {
    const s = new MemoryRaftStorage(config);
    expect(() => s.append([entry(1, 2)])).toThrow(/gap/);
  });

  it('refuses to compact past its snapshot', () => {
    const s = new MemoryRaftStorage(config);
    s.append([entry(1, 1), entry(1, 2)]);
    expect(() => s.compact(2)).toThrow(/beyond snapshot/);
  });

  it('ignores an out-of-date snapshot', () => {
    const s = new MemoryRaftStorage(config);
    s.append([entry(1, 1), entry(1, 2)]);
    s.createSnapshot(2, config, new Uint8Array());
    expect(s.applySnapshot({ index: 1, term: 1, voters: config.voters, learners: [], data: new Uint8Array() })).toBe('out-of-date');
  });

  it('appends in place: entries read before a later append or a replaced tail stay as they were read', () => {
    const s = new MemoryRaftStorage(config);
    s.append([entry(1, 1), entry(1, 2), entry(1, 3)]);
    const before = s.entries(1, 4, Number.MAX_SAFE_INTEGER);
    s.append([entry(1, 4)]);
    s.append([entry(2, 3), entry(2, 4), entry(2, 5)]);
    expect(before).toEqual({ ok: true, entries: [entry(1, 1), entry(1, 2), entry(1, 3)] });
    expect(s.lastIndex()).toBe(5);
    expect(s.entries(1, 6, Number.MAX_SAFE_INTEGER)).toEqual({ ok: true, entries: [entry(1, 1), entry(1, 2), entry(2, 3), entry(2, 4), entry(2, 5)] });
    // A shorter replacement drops the old tail beyond it.
    s.append([entry(3, 2)]);
    expect(s.lastIndex()).toBe(2);
    expect(s.term(2)).toEqual({ ok: true, term: 3 });
  });
});
