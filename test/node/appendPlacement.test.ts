// Where a follower's Raft log append runs: on the loop for small records while the disk is
// fast; after a slow append on the pool, until enough fast ones in a row there.
import { AppendPlacement } from '../../services/node/authority/AppendPlacement';

test('small records go on the loop while appends are fast; large ones never', () => {
  const p = new AppendPlacement(1000, 2, 3);
  expect(p.onLoop(10)).toBe(true);
  expect(p.onLoop(1000)).toBe(true);
  expect(p.onLoop(1001)).toBe(false);
  expect(p.fits(1000)).toBe(true);
  expect(p.fits(1001)).toBe(false);
  p.took(1.5);
  p.took(2);
  expect(p.onLoop(10)).toBe(true);
});

test('a slow append sends the next ones to the pool until fast ones there come in a row', () => {
  const p = new AppendPlacement(1000, 2, 3);
  p.took(2.5);
  expect(p.onLoop(10)).toBe(false);
  p.took(0.4);
  p.took(0.4);
  expect(p.onLoop(10)).toBe(false);
  // A slow one midway starts the count again.
  p.took(40);
  p.took(0.4);
  p.took(0.4);
  expect(p.onLoop(10)).toBe(false);
  p.took(0.4);
  expect(p.onLoop(10)).toBe(true);
  expect(p.onLoop(1001)).toBe(false);
});
