// Paper tests: each block checks one property stated in the Raft paper (Ongaro & Ousterhout,
// USENIX ATC 2014; section numbers as in the paper) or, where noted, Ongaro's thesis.

import {
  asNodeId,
  MemoryRaftStorage,
  RawNode,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
} from '../../../services/core/consensus';
import { makePrng } from '../../sim/prng';
import { bytes, TestCluster } from './cluster';

const n = asNodeId;
const n1 = n('n1');
const n2 = n('n2');
const n3 = n('n3');
const voters = [n1, n2, n3];
const ent = (term: number, index: number): Entry => ({ term, index, kind: 'normal', data: bytes(`${term}/${index}`) });
const logOfTerms = (terms: number[]): Entry[] => terms.map((t, i) => ent(t, i + 1));

/** A lone RawNode over prepared storage, driven by hand-written messages. */
function lone(id: NodeId, opts: { log?: Entry[]; hs?: HardState; preVote?: boolean; rand?: () => number } = {}) {
  const storage = new MemoryRaftStorage({ voters, learners: [] });
  storage.append(opts.log ?? []);
  if (opts.hs !== undefined) storage.setHardState(opts.hs);
  const raw = new RawNode({ id, storage, rand: opts.rand ?? (() => 0), preVote: opts.preVote ?? false });
  const drain = (): Message[] => {
    const out: Message[] = [];
    while (raw.hasReady()) {
      const rd = raw.ready();
      if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
      out.push(...rd.messages);
      raw.advance(rd);
    }
    return out;
  };
  return { raw, storage, drain };
}

describe('§5.1 terms', () => {
  it('a server that sees a higher term adopts it and becomes follower', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    const leader = c.node('n1').raw;
    leader.step({ type: 'app-resp', from: n2, to: n1, term: 5, index: 0, reject: true, rejectHint: 0, logTermHint: 0 });
    expect(leader.status()).toMatchObject({ role: 'follower', term: 5, leader: null });
  });

  it('requests with a stale term are not acted on', () => {
    const { raw, drain } = lone(n2, { hs: { term: 3, vote: null, commit: 0 } });
    raw.step({ type: 'vote', from: n1, to: n2, term: 2, lastLogIndex: 9, lastLogTerm: 9, transfer: false });
    expect(drain()).toEqual([]);
    expect(raw.status()).toMatchObject({ term: 3, vote: null });
  });
});

describe('§5.2 leader election', () => {
  it('a follower campaigns after a randomized timeout in [electionTimeout, 2*electionTimeout)', () => {
    const et = 10;
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const prng = makePrng(seed);
      const storage = new MemoryRaftStorage({ voters, learners: [] });
      const raw = new RawNode({ id: n1, storage, rand: () => prng.next(), electionTimeoutTicks: et });
      let ticks = 0;
      while (raw.status().role === 'follower') {
        raw.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(et);
      expect(ticks).toBeLessThan(2 * et);
      seen.add(ticks);
    }
    expect(seen.size).toBe(et); // every value in the range occurs
  });

  // cluster size, votes granted by others (true/false/missing), expected role after tallying
  it.each([
    [3, [true], 'leader'],
    [3, [false, false], 'follower'],
    [3, [false], 'candidate'],
    [5, [true], 'candidate'],
    [5, [true, true], 'leader'],
    [5, [false, false, false], 'follower'],
    [5, [true, false, false], 'candidate'],
  ])('in a cluster of %i, votes %j from others leave the candidate %s', (size, votes, want) => {
    const ids = Array.from({ length: size }, (_, i) => n(`n${i + 1}`));
    const storage = new MemoryRaftStorage({ voters: ids, learners: [] });
    const raw = new RawNode({ id: n('n1'), storage, rand: () => 0, preVote: false });
    raw.campaign();
    votes.forEach((granted, i) => {
      raw.step({ type: 'vote-resp', from: ids[i + 1] as NodeId, to: n('n1'), term: 1, reject: !granted });
    });
    expect(raw.status().role).toBe(want);
  });

  it('a server grants at most one vote per term, first come first served, and remembers it across a restart', () => {
    const { raw, storage, drain } = lone(n1);
    raw.step({ type: 'vote', from: n2, to: n1, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    raw.step({ type: 'vote', from: n3, to: n1, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    const resps = drain().filter((m) => m.type === 'vote-resp');
    expect(resps.map((m) => [m.to, m.type === 'vote-resp' && m.reject])).toEqual([
      [n2, false],
      [n3, true],
    ]);
    // §5.5: the vote is durable (it was in the Ready's hard state before the answer was sent).
    const restarted = new RawNode({ id: n1, storage, rand: () => 0, preVote: false });
    restarted.step({ type: 'vote', from: n3, to: n1, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    const again = restarted.ready().messages;
    expect(again).toMatchObject([{ type: 'vote-resp', to: n3, reject: true }]);
  });

  it('a candidate that hears from a leader of its term becomes follower', () => {
    const { raw } = lone(n1);
    raw.campaign();
    expect(raw.status().role).toBe('candidate');
    raw.step({ type: 'heartbeat', from: n2, to: n1, term: 1, commit: 0, readContext: null });
    expect(raw.status()).toMatchObject({ role: 'follower', leader: n2, term: 1 });
  });

  it('election safety: at most one leader per term across many randomized runs', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const prng = makePrng(seed);
      const c = new TestCluster(['n1', 'n2', 'n3', 'n4', 'n5'], { preVote: prng.chance(0.5), checkQuorum: prng.chance(0.5) }, seed);
      const leaders = new Map<number, NodeId>();
      for (let round = 0; round < 150; round++) {
        if (prng.chance(0.05)) {
          const ids = c.ids();
          const cut = prng.int(ids.length);
          c.partition([ids.slice(0, cut), ids.slice(cut)]);
        }
        if (prng.chance(0.05)) c.heal();
        c.tickAll(1);
        c.deliverAll();
        for (const ev of c.events) {
          if (ev.kind !== 'soft' || ev.to.role !== 'leader') continue;
          const prev = leaders.get(ev.to.term);
          expect(prev === undefined || prev === ev.id).toBe(true);
          leaders.set(ev.to.term, ev.id);
        }
        c.events = [];
      }
      expect(leaders.size).toBeGreaterThan(0);
    }
  });
});

describe('§5.3 log replication', () => {
  it('an entry commits once a majority stores it, not before', () => {
    const c = new TestCluster(['n1', 'n2', 'n3', 'n4', 'n5']);
    c.elect('n1');
    c.partition([['n1', 'n2'], ['n3'], ['n4'], ['n5']]);
    c.node('n1').raw.propose([bytes('x')]);
    c.deliverAll();
    expect(c.node('n1').raw.status().commit).toBe(1);
    c.partition([['n1', 'n2', 'n3'], ['n4'], ['n5']]);
    c.tick('n1');
    c.deliverAll();
    expect(c.node('n1').raw.status().commit).toBe(2);
    expect(c.node('n1').state).toEqual(['x']);
  });

  // Figure 7: the leader of term 8 repairs each follower's log to match its own.
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  it.each([
    ['a', [1, 1, 1, 4, 4, 5, 5, 6, 6], 6],
    ['b', [1, 1, 1, 4], 4],
    ['c', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], 6],
    ['d', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], 7],
    ['e', [1, 1, 1, 4, 4, 4, 4], 4],
    ['f', [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 3],
  ])('Figure 7 (%s): the follower ends with exactly the leader log (log matching)', (_name, followerTerms, followerTerm) => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { preVote: false, checkQuorum: false });
    c.node('n1').storage.append(logOfTerms(leaderTerms));
    c.node('n1').storage.setHardState({ term: 7, vote: null, commit: 0 });
    c.node('n2').storage.append(logOfTerms(followerTerms));
    c.node('n2').storage.setHardState({ term: followerTerm, vote: null, commit: 0 });
    for (const id of ['n1', 'n2']) c.restart(id);
    c.elect('n1'); // n3 (empty log) votes for n1; n2 may refuse.
    expect(c.node('n1').raw.status().term).toBe(8);
    for (let i = 0; i < 3; i++) {
      c.tickAll(1);
      c.deliverAll();
    }
    const show = (id: string) => c.logOf(id).map((e) => `${e.term}/${e.index}`);
    expect(show('n2')).toEqual(show('n1'));
    expect(show('n1')).toHaveLength(11);
  });
});

describe('§5.4 safety', () => {
  // §5.4.1 election restriction. Voter's log ends at 2/2 (index 2, term 2).
  it.each([
    [1, 1, true],
    [2, 1, true],
    [3, 1, true],
    [1, 2, true],
    [2, 2, false],
    [3, 2, false],
    [1, 3, false],
  ])('a voter ending at 2/2 refuses (%s) a candidate ending at index %i term %i: %s', (li, lt, reject) => {
    const { raw, drain } = lone(n1, { log: logOfTerms([1, 2]), hs: { term: 2, vote: null, commit: 0 } });
    raw.step({ type: 'vote', from: n2, to: n1, term: 3, lastLogIndex: li, lastLogTerm: lt, transfer: false });
    expect(drain().filter((m) => m.type === 'vote-resp')).toMatchObject([{ reject }]);
  });

  it('§5.4.2 a leader does not commit an entry of an earlier term by counting replicas', () => {
    const { raw, drain } = lone(n1, { log: logOfTerms([1, 2]), hs: { term: 2, vote: null, commit: 0 } });
    raw.campaign();
    raw.step({ type: 'vote-resp', from: n2, to: n1, term: 3, reject: false });
    expect(raw.status().role).toBe('leader');
    drain();
    // n2 now stores entries 1 and 2 (from terms 1 and 2): a majority, but not of this term.
    raw.step({ type: 'app-resp', from: n2, to: n1, term: 3, index: 2, reject: false, rejectHint: 0, logTermHint: 0 });
    expect(raw.status().commit).toBe(0);
    // Once the leader's own noop at index 3 is on a majority, everything up to it commits.
    raw.step({ type: 'app-resp', from: n2, to: n1, term: 3, index: 3, reject: false, rejectHint: 0, logTermHint: 0 });
    expect(raw.status().commit).toBe(3);
  });

  it('§5.4.3 leader completeness: a node lacking a committed entry cannot win; one holding it can', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { checkQuorum: false });
    c.elect('n1');
    c.partition([['n1', 'n2'], ['n3']]);
    c.node('n1').raw.propose([bytes('x')]);
    c.deliverAll();
    expect(c.node('n1').raw.status().commit).toBe(2);
    c.crash('n1');
    c.heal();
    c.node('n3').raw.campaign();
    c.deliverAll();
    expect(c.node('n3').raw.status().role).not.toBe('leader');
    c.elect('n2');
    c.tickAll(1);
    c.deliverAll();
    expect(c.node('n2').state).toEqual(['x']);
    expect(c.node('n3').state).toEqual(['x']);
  });
});

describe('thesis §9.6 PreVote and §6.2 CheckQuorum', () => {
  it('with PreVote a partitioned node does not inflate its term; without it, it does', () => {
    for (const preVote of [true, false]) {
      const c = new TestCluster(['n1', 'n2', 'n3'], { preVote });
      c.elect('n1');
      c.partition([['n1', 'n2'], ['n3']]);
      c.tick('n3', 100);
      c.deliverAll();
      const term = c.node('n3').raw.status().term;
      if (preVote) expect(term).toBe(1);
      else expect(term).toBeGreaterThan(3);
    }
  });

  it('a leader that cannot hear from a quorum steps down within one election timeout', () => {
    const c = new TestCluster(['n1', 'n2', 'n3'], { electionTimeoutTicks: 10 });
    c.elect('n1');
    c.partition([['n1'], ['n2', 'n3']]);
    c.tick('n1', 9);
    expect(c.node('n1').raw.status().role).toBe('leader');
    c.tick('n1', 1);
    expect(c.node('n1').raw.status().role).toBe('follower');
  });
});
