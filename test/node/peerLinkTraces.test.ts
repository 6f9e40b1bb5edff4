// A queued update's replication span ends exactly once: dropped with the backlog, or stopped
// with the link. Only traced updates have spans, and a backlog without any is dropped without
// walking it.
import { PeerLink } from '../../services/node/PeerLink';
import { OutboundTrace } from '../../services/telemetry/replicationTelemetry';
import { linkToFakePeer } from './fakePeer';

function span(ends: string[], name: string): OutboundTrace {
  return { traceparent: `00-${name}`, end: (outcome) => ends.push(`${name}:${outcome}`) };
}

function link(queueBytesMax: number): PeerLink {
  // Never started: nothing dials, the queue only fills, drops and stops.
  return linkToFakePeer(1, { heartbeatIntervalMs: 500, queueBytesMax });
}

test('the spans of a dropped backlog end as dropped, those queued after it as stopped', () => {
  const ends: string[] = [];
  const l = link(100);
  l.enqueue(1, 'd1', new Uint8Array(40), span(ends, 'a'));
  l.enqueue(2, 'd2', new Uint8Array(40));
  l.enqueue(3, 'd3', new Uint8Array(10), span(ends, 'b'));
  // Past the queue's limit: the backlog is dropped, then this update queued.
  l.enqueue(4, 'd4', new Uint8Array(40), span(ends, 'c'));
  expect(ends).toEqual(['a:dropped', 'b:dropped']);
  expect(l.backlog.updates).toBe(1);
  l.enqueue(5, 'd5', new Uint8Array(10));
  l.stop();
  expect(ends).toEqual(['a:dropped', 'b:dropped', 'c:stopped']);
});

test('a backlog of untraced updates drops and stops with no span to end', () => {
  const ends: string[] = [];
  const l = link(100);
  for (let seq = 1; seq <= 5; seq++) l.enqueue(seq, `d${seq}`, new Uint8Array(30));
  expect(l.backlog.updates).toBe(2);
  l.enqueue(6, 'd6', new Uint8Array(30), span(ends, 'x'));
  l.stop();
  expect(ends).toEqual(['x:stopped']);
});
