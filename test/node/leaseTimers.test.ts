// The leader's lease clocks: a lease past its time is proposed for expiry once, and counts as
// expired from then on (a keep-alive that comes after its time cannot renew it: the expiry
// applies and deletes its keys whatever the keep-alive says) until it is granted again.
import { LeaseTimers } from '../../services/node/authority/LeaseTimers';

test('a lease past its time is proposed once and stays expired; renewed in time, it lives on', () => {
  const t = new LeaseTimers();
  t.renew(1, 1000, 7, 0);
  t.renew(2, 1000, 8, 0);
  expect([t.isExpired(1, 999), t.expired(999)]).toEqual([false, []]);
  t.renew(2, 1000, 8, 900); // kept alive in time
  expect(t.isExpired(1, 1000)).toBe(true);
  expect(t.expired(1000)).toEqual([{ id: 1, fencingToken: 7 }]);
  expect(t.expired(1001)).toEqual([]); // proposed once
  expect([t.isExpired(1, 1001), t.isExpired(2, 1001), t.isExpired(3, 1001)]).toEqual([true, false, false]);
  t.prune(new Set([2]));
  expect(t.isExpired(1, 5000)).toBe(false); // gone: the state machine says whether it exists
  t.renew(1, 1000, 9, 5000); // granted again
  expect(t.isExpired(1, 5500)).toBe(false);
});

test('time left counts down to 0, which it stays at once the expiry is proposed; a refused proposal is named again', () => {
  const t = new LeaseTimers();
  t.renew(1, 1000, 7, 0);
  expect([t.remainingMs(1, 0), t.remainingMs(1, 400), t.remainingMs(1, 1200), t.remainingMs(2, 0)]).toEqual([1000, 600, 0, undefined]);
  expect(t.expired(1200)).toEqual([{ id: 1, fencingToken: 7 }]);
  expect(t.remainingMs(1, 1200)).toBe(0);
  expect(t.expired(1300)).toEqual([]);
  expect(t.retryExpiry(1)).toBe(1); // the proposal was refused: the next tick proposes it again
  expect(t.isExpired(1, 1300)).toBe(true);
  expect(t.expired(1300)).toEqual([{ id: 1, fencingToken: 7 }]);
  expect(t.retryExpiry(1)).toBe(2); // counted, so the node says it once
  expect(t.expired(1350)).toEqual([{ id: 1, fencingToken: 7 }]);
  expect(t.retryExpiry(2)).toBe(0); // no clock here
  t.renew(1, 1000, 7, 2000);
  expect(t.remainingMs(1, 2500)).toBe(500);
});
