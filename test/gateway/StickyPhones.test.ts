// Proves phone stickiness at the gateway: a phone keeps its node while the node is healthy,
// new phones spread to the least-loaded node, a phone whose node is down moves, and phones
// that stopped calling are forgotten.
import { StickyPhones } from '../../services/gateway/StickyPhones';

test('phones spread, stick, move off a down node, and expire when silent', () => {
  const sticky = new StickyPhones(1000);
  const all = ['n1', 'n2', 'n3'];
  expect(['ann', 'ben', 'cleo', 'dev'].map((p) => sticky.pick(p, all, 0))).toEqual(['n1', 'n2', 'n3', 'n1']);
  expect(sticky.pick('ben', all, 10)).toBe('n2');
  expect(sticky.pick('ben', ['n1', 'n3'], 20)).toBe('n3'); // n2 down: least loaded of the rest
  expect(sticky.pick('ben', all, 30)).toBe('n3'); // n2 back: ben stays where it is now
  expect(sticky.pick('eve', [], 40)).toBeUndefined();
  sticky.forgetSilent(1005);
  expect(sticky.snapshot()).toEqual({ ben: 'n3' });
});
