import { status } from '@grpc/grpc-js';
import { withTlsHint } from '../../clients/cli/clientOptions';
import { serviceError } from '../../clients/client/serviceError';

test('only a bare "Failed to connect" (what a TLS node does to a plaintext client) gets the TLS hint', () => {
  const failed = serviceError(status.UNAVAILABLE, 'no node reachable (tried a:1, b:2; b:2: Failed to connect)');
  expect((withTlsHint(failed) as { details: string }).details).toBe(`${failed.details}; if the nodes use TLS, give --cacert, --cert and --key (or CONCORD_CACERT, CONCORD_CERT and CONCORD_KEY)`);
  const refused = serviceError(status.UNAVAILABLE, 'no node reachable (tried a:1; a:1: Error: connect ECONNREFUSED 127.0.0.1:1)');
  const unknown = serviceError(status.UNAVAILABLE, 'no node reachable (tried a:1)');
  const other = serviceError(status.NOT_FOUND, 'no such document: Failed to connect)');
  for (const e of [refused, unknown, other, new Error('x')]) expect(withTlsHint(e)).toBe(e);
});
