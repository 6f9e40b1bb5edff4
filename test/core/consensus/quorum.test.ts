// Proves the majority arithmetic that commit, elections, CheckQuorum and ReadIndex all rely on,
// as tables in the style of etcd-io/raft's quorum tests.

import { asNodeId, committedIndex, hasQuorum, quorumSize, voteResult, type NodeId } from '../../../services/core/consensus';

const ids = (...s: string[]): NodeId[] => s.map(asNodeId);

describe('quorumSize', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [7, 4],
  ])('%i voters need %i', (n, q) => expect(quorumSize(n)).toBe(q));

  it('throws on an empty voter set (programmer error)', () => {
    expect(() => quorumSize(0)).toThrow(/at least one voter/);
  });
});

describe('committedIndex', () => {
  // voters, acked indexes by voter (missing = not reported), expected committed index
  const table: [string[], Record<string, number>, number][] = [
    [['a'], { a: 5 }, 5],
    [['a'], {}, 0],
    [['a', 'b'], { a: 5, b: 3 }, 3],
    [['a', 'b'], { a: 5 }, 0],
    [['a', 'b', 'c'], { a: 5, b: 3, c: 1 }, 3],
    [['a', 'b', 'c'], { a: 5, b: 5, c: 1 }, 5],
    [['a', 'b', 'c'], { a: 5 }, 0],
    [['a', 'b', 'c'], { a: 5, c: 4 }, 4],
    [['a', 'b', 'c', 'd'], { a: 9, b: 8, c: 7, d: 6 }, 7],
    [['a', 'b', 'c', 'd', 'e'], { a: 9, b: 8, c: 7, d: 6, e: 5 }, 7],
    [['a', 'b', 'c', 'd', 'e'], { a: 9, b: 9 }, 0],
    [['a', 'b', 'c', 'd', 'e'], { a: 9, b: 9, c: 2 }, 2],
    // Acks from non-voters do not count.
    [['a', 'b', 'c'], { a: 5, x: 5, y: 5 }, 0],
  ];
  it.each(table)('voters %j acked %j -> %i', (voters, acked, want) => {
    expect(committedIndex(ids(...voters), (id) => acked[id])).toBe(want);
  });
});

describe('voteResult', () => {
  // voters, votes (true = yes), expected result
  const table: [string[], Record<string, boolean>, string][] = [
    [['a'], {}, 'pending'],
    [['a'], { a: true }, 'won'],
    [['a'], { a: false }, 'lost'],
    [['a', 'b'], { a: true }, 'pending'],
    [['a', 'b'], { a: true, b: false }, 'lost'],
    [['a', 'b'], { a: true, b: true }, 'won'],
    [['a', 'b', 'c'], { a: true }, 'pending'],
    [['a', 'b', 'c'], { a: true, b: true }, 'won'],
    [['a', 'b', 'c'], { a: true, b: false }, 'pending'],
    [['a', 'b', 'c'], { a: false, b: false }, 'lost'],
    [['a', 'b', 'c'], { a: true, b: false, c: false }, 'lost'],
    [['a', 'b', 'c', 'd'], { a: true, b: true }, 'pending'],
    [['a', 'b', 'c', 'd'], { a: true, b: true, c: false, d: false }, 'lost'],
    [['a', 'b', 'c', 'd', 'e'], { a: true, b: true, c: true }, 'won'],
    [['a', 'b', 'c', 'd', 'e'], { a: false, b: false, c: false }, 'lost'],
    // Votes from non-voters are ignored.
    [['a', 'b', 'c'], { a: true, x: true, y: true }, 'pending'],
  ];
  it.each(table)('voters %j votes %j -> %s', (voters, votes, want) => {
    const m = new Map<NodeId, boolean>(Object.entries(votes).map(([k, v]) => [asNodeId(k), v]));
    expect(voteResult(ids(...voters), m)).toBe(want);
  });
});

describe('hasQuorum', () => {
  it.each([
    [['a', 'b', 'c'], ['a'], false],
    [['a', 'b', 'c'], ['a', 'c'], true],
    [['a', 'b', 'c', 'd'], ['a', 'b'], false],
    [['a', 'b', 'c', 'd'], ['a', 'b', 'd'], true],
    [['a'], ['a'], true],
  ])('voters %j active %j -> %s', (voters, active, want) => {
    expect(hasQuorum(ids(...voters), (id) => active.includes(id))).toBe(want);
  });
});
