// Proves the RawNode contract the shell relies on: what a Ready contains and when, the
// one-outstanding-Ready rule, typed refusals for operating conditions, proposal batching and
// flow-control limits, restart from storage, and status().

import { asNodeId, MemoryRaftStorage, RawNode, type Ready } from '../../../services/core/consensus';
import { bytes, TestCluster } from './cluster';

const n1 = asNodeId('n1');
const n2 = asNodeId('n2');

function single() {
  const storage = new MemoryRaftStorage({ voters: [n1], learners: [] });
  const raw = new RawNode({ id: n1, storage, rand: () => 0 });
  const persist = (rd: Ready) => {
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
  };
  return { storage, raw, persist };
}

describe('RawNode Ready cycle', () => {
  it('a single voter elects itself and commits a proposal; the Ready carries it to persist and to apply', () => {
    const { raw, persist } = single();
    raw.campaign();
    let rd = raw.ready();
    expect(rd.softState).toEqual({ leader: n1, role: 'leader', term: 1 });
    expect(rd.hardState).toEqual({ term: 1, vote: n1, commit: 1 });
    expect(rd.entries.map((e) => e.kind)).toEqual(['noop']);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    persist(rd);
    raw.advance(rd);
    expect(raw.hasReady()).toBe(false);

    const r = raw.propose([bytes('a'), bytes('b')]);
    expect(r).toEqual({ ok: true, firstIndex: 2, lastIndex: 3, term: 1 });
    rd = raw.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2, 3]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2, 3]);
    expect(rd.hardState?.commit).toBe(3);
    persist(rd);
    raw.advance(rd);
    expect(raw.status()).toMatchObject({ commit: 3, applied: 3, lastIndex: 3 });
  });

  it('allows one outstanding Ready at a time', () => {
    const { raw } = single();
    raw.campaign();
    const rd = raw.ready();
    expect(() => raw.ready()).toThrow(/advance/);
    raw.advance(rd);
    expect(() => raw.advance(rd)).toThrow(/advance/);
  });

  it('a restarted node recovers term, vote and commit, and re-applies from its applied index', () => {
    const { raw, storage, persist } = single();
    raw.campaign();
    let rd = raw.ready();
    persist(rd);
    raw.advance(rd);
    raw.propose([bytes('a')]);
    rd = raw.ready();
    persist(rd);
    raw.advance(rd);

    const again = new RawNode({ id: n1, storage, rand: () => 0, appliedIndex: 1 });
    expect(again.status()).toMatchObject({ term: 1, vote: n1, commit: 2, applied: 1, role: 'follower' });
    rd = again.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(rd.hardState).toBeUndefined(); // nothing new to persist
  });

  it('rejects a message addressed to another node', () => {
    const { raw } = single();
    expect(() => raw.step({ type: 'heartbeat', from: n2, to: n2, term: 1, commit: 0, readContext: null })).toThrow(
      /stepped into n1/,
    );
  });

  it('rejects a rand() outside [0, 1)', () => {
    const storage = new MemoryRaftStorage({ voters: [n1], learners: [] });
    expect(() => new RawNode({ id: n1, storage, rand: () => 1 })).toThrow(/rand/);
  });
});

describe('RawNode refusals are typed results', () => {
  it('a follower refuses proposals and names the leader', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    expect(c.node('n2').raw.propose([bytes('x')])).toEqual({ ok: false, reason: 'not-leader', leader: n1 });
    expect(c.node('n2').raw.transferLeader(n1)).toEqual({ ok: false, reason: 'not-leader', leader: n1 });
  });

  it('a node without a leader refuses reads', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    expect(c.node('n1').raw.readIndex('r')).toEqual({ ok: false, reason: 'no-leader' });
  });

  it('proposals are refused while leadership is being transferred', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.partition([['n1', 'n3'], ['n2']]);
    expect(c.node('n1').raw.transferLeader(n2)).toEqual({ ok: true });
    expect(c.node('n1').raw.propose([bytes('x')])).toEqual({ ok: false, reason: 'transfer-in-progress' });
    // The transfer is abandoned after an election timeout and proposals resume.
    for (let i = 0; i < 10; i++) {
      c.tick('n1');
      c.deliverAll();
    }
    expect(c.node('n1').raw.propose([bytes('x')]).ok).toBe(true);
  });

  it('transfer to a non-voter is refused', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    expect(c.node('n1').raw.transferLeader(asNodeId('n9'))).toEqual({ ok: false, reason: 'not-a-voter' });
  });

  it('proposals are refused with overloaded past maxUncommittedEntriesBytes, and accepted again once applied', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { maxUncommittedEntriesBytes: 10 });
    c.elect('n1');
    c.partition([['n1'], ['n2', 'n3']]);
    const leader = c.node('n1').raw;
    expect(leader.propose([bytes('123456')]).ok).toBe(true);
    expect(leader.propose([bytes('123456')])).toEqual({ ok: false, reason: 'overloaded' });
    c.heal();
    c.tick('n1');
    c.deliverAll();
    expect(leader.propose([bytes('123456')]).ok).toBe(true);
  });
});

describe('RawNode batching and flow control', () => {
  it('a batch of proposals travels in one append', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.node('n1').raw.propose(Array.from({ length: 100 }, (_, i) => bytes(`e${i}`)));
    const apps = c.deliverAll().filter(({ m }) => m.type === 'app' && m.entries.length > 0);
    expect(apps).toHaveLength(2); // one per follower
    expect(c.node('n3').state).toHaveLength(100);
  });

  it('maxSizePerMsgBytes splits appends and maxInflightMsgs bounds how many are unacknowledged', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { maxSizePerMsgBytes: 4, maxInflightMsgs: 2 });
    c.elect('n1');
    c.node('n1').raw.propose(Array.from({ length: 10 }, () => bytes('abcd')));
    c.process(n1);
    const toN2 = c.queue.filter((m) => m.to === n2 && m.type === 'app');
    expect(toN2.map((m) => (m.type === 'app' ? m.entries.length : 0))).toEqual([1, 1]);
    c.deliverAll();
    expect(c.node('n2').state).toHaveLength(10);
    expect(c.node('n1').raw.status().progress?.find((p) => p.id === n2)).toMatchObject({
      match: 11,
      state: 'replicate',
      inflightMsgs: 0,
    });
  });
});

describe('RawNode status', () => {
  it('reports role, term, commit and per-member progress on the leader', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    const st = c.node('n1').raw.status();
    expect(st).toMatchObject({ id: n1, role: 'leader', leader: n1, term: 1, commit: 1, applied: 1, lastIndex: 1 });
    expect(st.progress?.map((p) => [p.id, p.match, p.state])).toEqual([
      ['n1', 1, 'replicate'],
      ['n2', 1, 'replicate'],
      ['n3', 1, 'replicate'],
    ]);
    expect(c.node('n2').raw.status().progress).toBeNull();
  });
});

describe('RawNode deferred commit notices', () => {
  const n3 = asNodeId('n3');
  const commitOf = (c: TestCluster, id: string): number => c.node(id).raw.status().commit;

  it('by default a commit is announced at once: every follower gets an empty append and applies', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.node('n1').raw.propose([bytes('a')]);
    const sent = c.deliverAll().map(({ m }) => m);
    expect(sent.filter((m) => m.type === 'app' && m.entries.length === 0)).toHaveLength(2);
    expect(c.node('n2').state).toEqual(['a']);
    expect(c.node('n3').state).toEqual(['a']);
    expect(c.node('n1').raw.commitNoticeOwed()).toBe(false);
  });

  it('deferred, the leader commits and applies without telling followers until asked to', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { deferCommitNotice: true });
    const leader = c.elect('n1');
    leader.raw.propose([bytes('a')]);
    const sent = c.deliverAll().map(({ m }) => m);
    expect(sent.filter((m) => m.type === 'app' && m.entries.length === 0)).toHaveLength(0);
    expect(leader.state).toEqual(['a']);
    expect(c.node('n2').state).toEqual([]);
    expect(commitOf(c, 'n2')).toBeLessThan(commitOf(c, 'n1'));
    expect(leader.raw.commitNoticeOwed()).toBe(true);

    leader.raw.sendCommitNotices();
    const notices = c.deliverAll().map(({ m }) => m).filter((m) => m.type === 'app');
    expect(notices.map((m) => m.to).sort()).toEqual([n2, n3]);
    expect(notices.every((m) => m.type === 'app' && m.entries.length === 0)).toBe(true);
    expect(c.node('n2').state).toEqual(['a']);
    expect(c.node('n3').state).toEqual(['a']);
    expect(leader.raw.commitNoticeOwed()).toBe(false);
  });

  it('deferred, the next append carries the commit, so no notice is owed while writes follow each other', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { deferCommitNotice: true });
    const leader = c.elect('n1');
    for (const v of ['a', 'b', 'c']) {
      leader.raw.propose([bytes(v)]);
      c.deliverAll();
    }
    // Each follower has applied all but the last write: the last one's append carried the
    // commit of the one before it.
    expect(c.node('n2').state).toEqual(['a', 'b']);
    expect(c.node('n3').state).toEqual(['a', 'b']);
    expect(leader.state).toEqual(['a', 'b', 'c']);
    // A heartbeat carries it too.
    c.tick('n1', 2);
    c.deliverAll();
    expect(c.node('n2').state).toEqual(['a', 'b', 'c']);
    expect(c.node('n3').state).toEqual(['a', 'b', 'c']);
    expect(leader.raw.commitNoticeOwed()).toBe(false);
  });

  it('a follower owes no notice, and a leader with a follower down still tells the others', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { deferCommitNotice: true });
    const leader = c.elect('n1');
    c.crash('n3');
    leader.raw.propose([bytes('a')]);
    c.deliverAll();
    expect(leader.state).toEqual(['a']);
    expect(c.node('n2').raw.commitNoticeOwed()).toBe(false);
    c.node('n2').raw.sendCommitNotices();
    expect(c.node('n2').raw.hasReady()).toBe(false);
    leader.raw.sendCommitNotices();
    const notices = c.deliverAll().map(({ m }) => m).filter((m) => m.type === 'app');
    expect(notices.filter((m) => m.to === n2)).toHaveLength(1);
    expect(c.node('n2').state).toEqual(['a']);
  });
});
