// Proves the header <-> metadata translation at the gateway: only application metadata reaches
// the nodes (never transport, browser or routing headers, nor the nodes' own concord-* ones), binary values are base64 on the HTTP
// side, timeouts parse, and a node's status and trace id come back as the browser expects.
import { Metadata, status } from '@grpc/grpc-js';
import { ensureTraceparent, headersFromMetadata, metadataFromHeaders, parseGrpcTimeout, statusTrailers, traceIdOf } from '../../services/gateway/grpcWebMetadata';

test('request headers become metadata without transport, browser and routing headers', () => {
  const md = metadataFromHeaders({
    host: 'x', 'content-type': 'application/grpc-web+proto', 'user-agent': 'chrome', cookie: 'a=b', 'sec-fetch-mode': 'cors',
    'x-grpc-web': '1', 'grpc-timeout': '5S', 'x-concord-phone': 'ann', 'x-concord-node': 'n1',
    authorization: 'Bearer t', 'x-request-id': 'r1, r2', 'trace-bin': Buffer.from([1, 2, 3]).toString('base64'),
    // What nodes tell each other, never a browser's to set (the gateway's certificate may be a node's).
    'concord-forwarded-for': 'ops', 'concord-forwarded-by': 'n1',
  });
  expect(Object.keys(md.toJSON()).sort()).toEqual(['authorization', 'trace-bin', 'x-request-id']);
  expect(md.get('x-request-id')).toEqual(['r1, r2']); // a text value keeps its commas
  expect([...(md.get('trace-bin')[0] as Buffer)]).toEqual([1, 2, 3]);
});

test('metadata becomes header pairs, binary as base64', () => {
  const md = new Metadata();
  md.set('concord-reachable-voters', 'n1');
  md.set('blob-bin', Buffer.from([255]));
  expect(headersFromMetadata(md)).toEqual([['concord-reachable-voters', 'n1'], ['blob-bin', '/w==']]);
});

test('a status becomes trailers: code, encoded message, trailing metadata', () => {
  const metadata = new Metadata();
  metadata.set('concord-reachable-voters', 'n1');
  expect(statusTrailers({ code: status.UNAVAILABLE, details: 'no quorum: 1 of 3 (n1)', metadata })).toEqual([
    ['grpc-status', '14'], ['grpc-message', 'no quorum: 1 of 3 (n1)'], ['concord-reachable-voters', 'n1'],
  ]);
  expect(statusTrailers({ code: status.OK, details: '', metadata: new Metadata() })).toEqual([['grpc-status', '0']]);
});

test('grpc-timeout parses in every unit and refuses nonsense', () => {
  expect(parseGrpcTimeout('2S')).toBe(2000);
  expect(parseGrpcTimeout('250m')).toBe(250);
  expect(parseGrpcTimeout('1M')).toBe(60_000);
  expect(parseGrpcTimeout('1H')).toBe(3_600_000);
  expect(parseGrpcTimeout('5000u')).toBe(5);
  expect(parseGrpcTimeout('5s')).toBeUndefined();
  expect(parseGrpcTimeout('123456789S')).toBeUndefined();
  expect(parseGrpcTimeout(undefined)).toBeUndefined();
});

test('a trace id is found in x-concord-trace-id or a W3C traceparent', () => {
  const direct = new Metadata();
  direct.set('x-concord-trace-id', 'abc');
  const parent = new Metadata();
  parent.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  expect(traceIdOf(undefined, direct)).toBe('abc');
  expect(traceIdOf(parent)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  expect(traceIdOf(new Metadata())).toBeUndefined();
});

test('every call carries a traceparent: the page\'s if valid, else a new sampled one', () => {
  const given = new Metadata();
  given.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  expect(ensureTraceparent(given)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  for (const bad of [undefined, 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01']) {
    const md = new Metadata();
    if (bad !== undefined) md.set('traceparent', bad);
    const id = ensureTraceparent(md);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(md.get('traceparent')).toEqual([expect.stringMatching(new RegExp(`^00-${id}-[0-9a-f]{16}-01$`))]);
  }
});
