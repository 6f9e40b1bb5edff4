import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkTls, readTls, tlsFilesFrom, type TlsFiles } from '../../clients/client/tlsFiles';

// The checks a node, the CLI and the gateway run on their TLS files before any handshake, on
// the committed fixtures (test/fixtures/tls/generate.sh; valid until 2126).

const dir = path.resolve(__dirname, '../fixtures/tls');
const f = (name: string): string => path.join(dir, name);
const read = (name: string): Buffer => fs.readFileSync(f(name));
const files = (cert: string, key: string, ca = 'ca.pem'): TlsFiles => ({ certFile: f(cert), keyFile: f(key), caFile: f(ca) });
const check = (cert: Buffer, key: string, ca: string, signedByCa: boolean, now?: Date) =>
  (): unknown => checkTls(cert, read(key), read(ca), files('cert.pem', key, ca), { signedByCa, now });

test('a node certificate signed by the CA, with its key, passes; the leaf is the first certificate', () => {
  const m = readTls(files('node.pem', 'node-key.pem'), { signedByCa: true });
  expect(m.leaf.subject).toContain('CN=concord node');
  expect(m.leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
  expect(m.cert.equals(read('node.pem'))).toBe(true);
});

test('the key must belong to the certificate', () => {
  expect(() => readTls(files('node.pem', 'client-key.pem'))).toThrow(`the key in ${f('client-key.pem')} does not belong to the certificate in ${f('node.pem')} (CN=concord node)`);
});

test('a node\'s certificate must be signed by its CA; a client\'s need not be (its CA checks only the nodes)', () => {
  const rogue = read('rogue-client.pem');
  expect(check(rogue, 'rogue-client-key.pem', 'ca.pem', true)).toThrow('(CN=concord client, issued by CN=rogue CA) is not signed by a CA in');
  expect(check(rogue, 'rogue-client-key.pem', 'ca.pem', false)).not.toThrow();
  // A certificate that is itself one of the CA certificates counts as trusted.
  expect(check(read('client.pem'), 'client-key.pem', 'rogue-ca.pem', true)).toThrow('is not signed by a CA');
});

test('a chain after the leaf must link up: each certificate signed by the next', () => {
  const linked = Buffer.concat([read('node.pem'), read('ca.pem')]);
  expect(check(linked, 'node-key.pem', 'ca.pem', true)).not.toThrow();
  const broken = Buffer.concat([read('node.pem'), read('rogue-ca.pem')]);
  expect(check(broken, 'node-key.pem', 'ca.pem', false)).toThrow('do not form a chain');
});

test('certificates outside their validity are refused, naming the date', () => {
  const cert = read('client.pem');
  expect(check(cert, 'client-key.pem', 'ca.pem', false, new Date('2200-01-01T00:00:00Z'))).toThrow(/CN=concord client in .*cert\.pem expired on 21\d\d-/);
  expect(check(cert, 'client-key.pem', 'ca.pem', false, new Date('2000-01-01T00:00:00Z'))).toThrow(/is not valid before 20\d\d-/);
});

test('unreadable files, files without a certificate and keys that are not keys are named', () => {
  expect(() => readTls(files('missing.pem', 'client-key.pem'))).toThrow(`cannot read the certificate ${f('missing.pem')}`);
  expect(check(Buffer.from('not a pem'), 'client-key.pem', 'ca.pem', false)).toThrow(`${f('cert.pem')} holds no PEM certificate`);
  expect(() => checkTls(read('client.pem'), read('client.pem'), read('ca.pem'), files('client.pem', 'client.pem'))).toThrow(`${f('client.pem')} holds no usable private key`);
  const garbled = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  expect(check(garbled, 'client-key.pem', 'ca.pem', false)).toThrow('certificate 1 cannot be parsed');
});

test('TLS options come as all three or none', () => {
  const names = { cert: '--cert', key: '--key', ca: '--cacert' };
  expect(tlsFilesFrom({}, names)).toBeUndefined();
  expect(tlsFilesFrom({ cert: '', key: '', ca: '' }, names)).toBeUndefined();
  expect(tlsFilesFrom({ cert: 'c', key: 'k', ca: 'a' }, names)).toEqual({ certFile: 'c', keyFile: 'k', caFile: 'a' });
  expect(() => tlsFilesFrom({ ca: 'a' }, names)).toThrow('TLS needs --cert, --key and --cacert together; missing --cert and --key');
});
