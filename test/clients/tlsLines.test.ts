import { tlsLines } from '../../clients/cli/formatStatusTable';

// `concord status`'s line for a mutual-TLS node's certificate.

const day = 86_400_000;
const now = Date.parse('2030-06-01T00:00:00Z');
const status = (notAfterMs: number) => ({ subject: 'CN=concord node', serial: 'AB12', subjectAltNames: 'IP Address:127.0.0.1', notAfterMs: BigInt(notAfterMs) });

test('a plaintext node has no TLS line', () => {
  expect(tlsLines(undefined, now)).toEqual([]);
});

test('expiry is quiet far off, loud within 30 days, and says EXPIRED once past', () => {
  expect(tlsLines(status(now + 400 * day), now)).toEqual(['  tls: CN=concord node  serial=AB12  expires 2031-07-06 (in 400 days)']);
  expect(tlsLines(status(now + 30 * day), now)).toEqual(['  tls: CN=concord node  serial=AB12  expires 2030-07-01 (in 30 days)']);
  expect(tlsLines(status(now + 29 * day + 1), now)).toEqual(['  tls: CN=concord node  serial=AB12  EXPIRES in 29 days (2030-06-30): rotate it']);
  expect(tlsLines(status(now - 1), now)).toEqual(['  tls: CN=concord node  serial=AB12  EXPIRED on 2030-05-31: peers and clients refuse it']);
});
