// The bookkeeping behind directed heals: which documents a link owes its peer, when that list is
// known to be complete, and when a round may pull just the documents the peer named instead of
// comparing digests.
import { OwedDocuments, owedDocumentsMax } from '../../services/node/OwedDocuments';

/** A link whose first digest round with the peer has completed (its list is complete). */
function completeLink(): OwedDocuments {
  const owed = new OwedDocuments();
  owed.finished(owed.plan(), 'done');
  expect(owed.isComplete).toBe(true);
  return owed;
}

const names = (owed: OwedDocuments, queued: string[] = []): string[] => [...owed.list(queued).documents].sort();

test('a fresh link compares digests first, even when the peer names a complete list', () => {
  const owed = new OwedDocuments();
  owed.dropped(['a', 'b']);
  owed.peerOwes({ documents: ['c'], complete: true });
  const plan = owed.plan();
  expect(plan.directed).toBe(false);
  expect([...plan.taken].sort()).toEqual(['a', 'b']);
  // Still named while the round that took them runs.
  expect(names(owed)).toEqual(['a', 'b']);
  // The digest round covered what an earlier life of the node may have left undelivered.
  owed.finished(plan, 'done');
  expect(owed.isComplete).toBe(true);
  expect(owed.size).toBe(0);
});

test('with both lists complete the round pulls the peer\'s documents; ours leave as the peer pulls them', () => {
  const owed = completeLink();
  owed.dropped(['a', 'b', 'a']);
  expect(owed.size).toBe(2);
  owed.peerOwes({ documents: ['b', 'c', 'c'], complete: true });
  const plan = owed.plan();
  expect(plan.directed).toBe(true);
  expect([...plan.documents].sort()).toEqual(['b', 'c']);
  owed.finished(plan, 'done');
  expect(names(owed, ['q'])).toEqual(['a', 'b', 'q']);
  owed.pulled(['a', 'x']);
  expect(names(owed)).toEqual(['b']);
  expect(owed.isComplete).toBe(true);
});

test('the peer\'s list is used once, and only on the connection that named it', () => {
  const owed = completeLink();
  owed.peerOwes({ documents: ['c'], complete: true });
  const first = owed.plan();
  expect(first.directed).toBe(true);
  owed.finished(first, 'done');
  // The next (periodic) round has no list from the peer: it compares digests.
  const periodic = owed.plan();
  expect(periodic.directed).toBe(false);
  owed.finished(periodic, 'done');
  owed.peerOwes({ documents: ['d'], complete: true });
  owed.connecting();
  expect(owed.plan().directed).toBe(false);
});

test('an incomplete list on either side means a digest round', () => {
  const owed = completeLink();
  owed.peerOwes({ documents: ['c'], complete: false });
  expect(owed.plan().directed).toBe(false);
});

test('a failed digest round owes its documents again; a refused round keeps the peer\'s list', () => {
  const owed = new OwedDocuments();
  owed.dropped(['a']);
  const failed = owed.plan();
  owed.finished(failed, 'failed');
  expect(names(owed)).toEqual(['a']);
  expect(owed.isComplete).toBe(false);

  const owed2 = completeLink();
  owed2.peerOwes({ documents: ['c'], complete: true });
  owed2.finished(owed2.plan(), 'refused');
  const retry = owed2.plan();
  expect(retry.directed).toBe(true);
  expect(retry.documents).toEqual(['c']);
});

test('what a done digest round left to the peer to pull, and the peer had not pulled, is owed', () => {
  const owed = new OwedDocuments();
  owed.dropped(['a', 'b']);
  const plan = owed.plan();
  // 'x' differed too, though the set did not name it (a restart forgot it): owed now as well.
  owed.finished(plan, 'done', ['a', 'x']);
  expect(names(owed)).toEqual(['a', 'x']);
  expect(owed.isComplete).toBe(true);
});

test('past the limit the set forgets its documents and is incomplete until a digest round completes', () => {
  const owed = completeLink();
  const ids = Array.from({ length: owedDocumentsMax + 1 }, (_, i) => `doc-${i}`);
  // A digest round that began before the overflow does not make the set complete again.
  const running = owed.plan();
  owed.dropped(ids);
  expect(owed.isComplete).toBe(false);
  expect(owed.size).toBe(0);
  owed.finished(running, 'done');
  expect(owed.isComplete).toBe(false);
  const next = owed.plan();
  owed.finished(next, 'done');
  expect(owed.isComplete).toBe(true);
});

test('the list named in a hello covers queued documents and is bounded', () => {
  const owed = completeLink();
  owed.dropped(['a']);
  const list = owed.list(['a', 'q']);
  expect([...list.documents].sort()).toEqual(['a', 'q']);
  expect(list.complete).toBe(true);
  const tooMany = owed.list(Array.from({ length: owedDocumentsMax + 1 }, (_, i) => `q-${i}`));
  expect(tooMany).toEqual({ documents: [], complete: false });
  // Naming the list takes nothing: the documents are still owed.
  expect(owed.size).toBe(1);
});
