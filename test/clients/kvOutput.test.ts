// Proves how the CLI shows authoritative results: KeyValues as text (hex when binary), watch
// events as `revision TYPE key value`, the authoritative log in `concord status` (term, leader,
// commit, and each voter's match index on the leader), and a minority's UNAVAILABLE naming the
// voters it reaches on the error line.
import { Metadata, status } from '@grpc/grpc-js';
import { serviceError } from '../../clients/client/serviceError';
import { authorityLines } from '../../clients/cli/formatAuthority';
import { eventJson, eventLine, kvJson, kvLines } from '../../clients/cli/kvOutput';
import { reportError } from '../../clients/cli/reportError';
import { AuthorityStatus } from '../../proto/gen/concord/v1/admin';
import { Event_EventType, type KeyValue } from '../../proto/gen/concord/v1/kv';

const kv = (key: string, value: Uint8Array): KeyValue => ({ key, value, createRevision: 3n, modRevision: 5n, version: 2n, lease: 0n });

test('values show as text, binary ones as hex; --json keeps revisions as numbers', () => {
  expect(kvLines([kv('cfg/x', Buffer.from('v2')), kv('bin', Buffer.from([0xff, 0x00]))])).toEqual(['cfg/x', 'v2', 'bin', '0xff00']);
  expect(kvLines([kv('cfg/x', Buffer.from('v2'))], true)).toEqual(['cfg/x']);
  expect(kvJson(kv('bin', Buffer.from([0xff])))).toEqual({ key: 'bin', valueHex: 'ff', createRevision: 3, modRevision: 5, version: 2, lease: 0 });
});

test('watch events: revision, type, key and the value of a put', () => {
  const put = { type: Event_EventType.PUT, kv: kv('cfg/x', Buffer.from('two words')), prevKv: undefined };
  const del = { type: Event_EventType.DELETE, kv: kv('cfg/x', Buffer.alloc(0)), prevKv: undefined };
  expect(eventLine(12n, put)).toBe('12  PUT  cfg/x  two words');
  expect(eventLine(13n, del)).toBe('13  DELETE  cfg/x');
  expect(eventJson(12n, put)).toMatchObject({ revision: 12, type: 'PUT', key: 'cfg/x', value: 'two words' });
});

test('status shows the log of every node and, on the leader, each voter\'s match index', () => {
  const voters = [
    { nodeId: 'n1', match: 42n, next: 43n, state: 'replicate' },
    { nodeId: 'n3', match: 40n, next: 41n, state: 'probe' },
  ];
  const leader = AuthorityStatus.fromPartial({ term: 3n, leaderId: 'n1', role: 'leader', commit: 42n, applied: 42n, lastIndex: 42n, revision: 17n, voters, kvBytes: 3n << 20n, kvQuotaBytes: 2n << 30n });
  expect(authorityLines(leader)).toEqual([
    '  log: term=3  leader=n1  role=leader  commit=42  applied=42  last=42  kv_revision=17',
    '  kv store: 3.0 MiB of its 2048.0 MiB quota',
    '    voter n1  match=42  next=43  replicate',
    '    voter n3  match=40  next=41  probe  (2 behind)',
  ]);
  const follower = AuthorityStatus.fromPartial({ term: 3n, leaderId: '', role: 'candidate', commit: 40n, applied: 39n, lastIndex: 41n });
  expect(authorityLines(follower)).toEqual(['  log: term=3  leader=NONE  role=candidate  commit=40  applied=39  last=41  kv_revision=0']);
  expect(authorityLines(undefined)).toEqual([]);
  const full = AuthorityStatus.fromPartial({ term: 3n, leaderId: 'n1', role: 'follower', kvBytes: 59n << 10n, kvQuotaBytes: 64n << 10n });
  expect(authorityLines(full)[1]).toBe('  kv store: 0.1 MiB of its 0.1 MiB quota (92% FULL: writes that would pass it are refused)');
});

test('UNAVAILABLE names the reachable voters on the error line; other trailers follow, empty ones are dropped', () => {
  const error = serviceError(status.UNAVAILABLE, 'no quorum: this node reaches 1 of 3 voters (n1); a majority of 2 is needed');
  error.metadata = new Metadata();
  error.metadata.set('concord-reachable-voters', 'n1');
  error.metadata.set('concord-leader', '');
  const lines: string[] = [];
  expect(reportError(error, (line) => lines.push(line))).toBe(1);
  expect(lines).toEqual(['error: UNAVAILABLE: no quorum: this node reaches 1 of 3 voters (n1); a majority of 2 is needed (reachable voters: n1)']);

  const refused = serviceError(status.FAILED_PRECONDITION, 'counter wallet/alice is 70; adding -71 would go below the floor 0');
  refused.metadata.set('concord-value', '70');
  lines.length = 0;
  reportError(refused, (line) => lines.push(line));
  expect(lines).toEqual(['error: FAILED_PRECONDITION: counter wallet/alice is 70; adding -71 would go below the floor 0', '  value: 70']);
});
