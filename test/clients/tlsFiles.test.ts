import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkTls, readServing, readTls, tlsFilesFrom, type TlsFiles } from '../../clients/client/tlsFiles';

// The checks a node, the CLI and the gateway run on their TLS files before any handshake, on
// the committed fixtures (test/fixtures/tls/generate.sh; valid until 2126).

const dir = path.resolve(__dirname, '../fixtures/tls');
const f = (name: string): string => path.join(dir, name);
const read = (name: string): Buffer => fs.readFileSync(f(name));
const files = (cert: string, key: string, ca = 'ca.pem'): TlsFiles => ({ certFile: f(cert), keyFile: f(key), caFile: f(ca) });
const check = (cert: Buffer, key: string, ca: string | Buffer, role: 'node' | 'client', now?: Date) =>
  (): unknown => checkTls(cert, read(key), typeof ca === 'string' ? read(ca) : ca, files('cert.pem', key, 'ca.pem'), { role, now });

test('a node certificate signed by the CA, with its key, passes; the leaf is the first certificate', () => {
  const m = readTls(files('node.pem', 'node-key.pem'), { role: 'node' });
  expect(m.leaf.subject).toContain('CN=concord node');
  expect(m.leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
  expect(m.cert.equals(read('node.pem'))).toBe(true);
});

test('the key must belong to the certificate', () => {
  expect(() => readTls(files('node.pem', 'client-key.pem'))).toThrow(`the key in ${f('client-key.pem')} does not belong to the certificate in ${f('node.pem')} (CN=concord node)`);
});

test('a node\'s certificate must be signed by its CA; a client\'s need not be (its CA checks only the nodes)', () => {
  const node = read('node.pem');
  expect(check(node, 'node-key.pem', 'rogue-ca.pem', 'node')).toThrow('(CN=concord node, issued by CN=concord test CA) is not signed by a CA in');
  expect(check(node, 'node-key.pem', 'rogue-ca.pem', 'client')).not.toThrow();
  // Found among other CA certificates of the file.
  expect(check(node, 'node-key.pem', Buffer.concat([read('rogue-ca.pem'), read('ca.pem')]), 'node')).not.toThrow();
});

test('a node\'s CA file must hold its chain up to a self-signed root; an intermediate alone fails every handshake', () => {
  const leafOnly = read('via-intermediate.pem');
  const withIntermediate = Buffer.concat([leafOnly, read('intermediate.pem')]);
  // The intermediate in the certificate file, the root in the CA file: as TLS expects.
  expect(check(withIntermediate, 'via-intermediate-key.pem', 'ca.pem', 'node')).not.toThrow();
  // Or both CAs in the CA file.
  expect(check(leafOnly, 'via-intermediate-key.pem', Buffer.concat([read('intermediate.pem'), read('ca.pem')]), 'node')).not.toThrow();
  expect(check(leafOnly, 'via-intermediate-key.pem', 'intermediate.pem', 'node'))
    .toThrow('is signed by CN=concord intermediate CA in ' + f('ca.pem') + ', whose issuer (CN=concord test CA) is not there: the CA file must hold the chain up to its root');
  expect(check(leafOnly, 'via-intermediate-key.pem', 'ca.pem', 'node')).toThrow('is not signed by a CA');
});

test('a chain after the leaf must link up: each certificate signed by the next', () => {
  const linked = Buffer.concat([read('node.pem'), read('ca.pem')]);
  expect(check(linked, 'node-key.pem', 'ca.pem', 'node')).not.toThrow();
  const broken = Buffer.concat([read('node.pem'), read('rogue-ca.pem')]);
  expect(check(broken, 'node-key.pem', 'ca.pem', 'client')).toThrow('do not form a chain');
});

test('extended key usage must allow the role: server and client for a node, client for a client', () => {
  const serverOnly = read('server-only.pem');
  expect(check(serverOnly, 'server-only-key.pem', 'ca.pem', 'node')).toThrow('(CN=concord server only) does not allow clientAuth (extended key usage): a node serves and also dials its peers with it');
  expect(check(serverOnly, 'server-only-key.pem', 'ca.pem', 'client')).toThrow('does not allow clientAuth (extended key usage): a client presents it to the nodes');
  expect(check(read('client.pem'), 'client-key.pem', 'ca.pem', 'node')).toThrow('does not allow serverAuth (extended key usage)');
  expect(check(read('client.pem'), 'client-key.pem', 'ca.pem', 'client')).not.toThrow();
});

test('certificates outside their validity are refused, naming the date', () => {
  const cert = read('client.pem');
  expect(check(cert, 'client-key.pem', 'ca.pem', 'client', new Date('2200-01-01T00:00:00Z'))).toThrow(/CN=concord client in .*cert\.pem expired on 21\d\d-/);
  expect(check(cert, 'client-key.pem', 'ca.pem', 'client', new Date('2000-01-01T00:00:00Z'))).toThrow(/is not valid before 20\d\d-/);
});

test('a stale CA certificate kept in the CA file beside the live one is not held against it', () => {
  const shortCa = read('short-ca.pem');
  const later = new Date(new Date(new X509Certificate(shortCa).validTo).getTime() + 86_400_000);
  const bundle = Buffer.concat([shortCa, read('ca.pem')]);
  expect(check(read('node.pem'), 'node-key.pem', bundle, 'node', later)).not.toThrow();
});

test('unreadable files, files without a certificate and keys that are not keys are named', () => {
  expect(() => readTls(files('missing.pem', 'client-key.pem'))).toThrow(`cannot read the certificate ${f('missing.pem')}`);
  expect(check(Buffer.from('not a pem'), 'client-key.pem', 'ca.pem', 'client')).toThrow(`${f('cert.pem')} holds no PEM certificate`);
  expect(() => checkTls(read('client.pem'), read('client.pem'), read('ca.pem'), files('client.pem', 'client.pem'))).toThrow(`${f('client.pem')} holds no usable private key`);
  const garbled = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  expect(check(garbled, 'client-key.pem', 'ca.pem', 'client')).toThrow('certificate 1 cannot be parsed');
});

test('what OpenSSL itself refuses (a 512-bit RSA key) is refused at the check, not on every connection later', () => {
  expect(() => readTls(files('weak.pem', 'weak-key.pem'), { role: 'node' })).toThrow(`OpenSSL refuses the certificate in ${f('weak.pem')} with the key in ${f('weak-key.pem')}: `);
  expect(() => readServing({ certFile: f('weak.pem'), keyFile: f('weak-key.pem') })).toThrow('key too small');
});

test('a served (HTTPS) certificate needs its own key and serverAuth usage, and no CA', () => {
  expect(readServing({ certFile: f('node.pem'), keyFile: f('node-key.pem') }).leaf.subject).toContain('CN=concord node');
  expect(() => readServing({ certFile: f('node.pem'), keyFile: f('client-key.pem') })).toThrow('does not belong to the certificate');
  expect(() => readServing({ certFile: f('client.pem'), keyFile: f('client-key.pem') })).toThrow('does not allow serverAuth (extended key usage): browsers are served it');
});

test('TLS options come as all three or none', () => {
  const names = { cert: '--cert', key: '--key', ca: '--cacert' };
  expect(tlsFilesFrom({}, names)).toBeUndefined();
  expect(tlsFilesFrom({ cert: '', key: '', ca: '' }, names)).toBeUndefined();
  expect(tlsFilesFrom({ cert: 'c', key: 'k', ca: 'a' }, names)).toEqual({ certFile: 'c', keyFile: 'k', caFile: 'a' });
  expect(() => tlsFilesFrom({ ca: 'a' }, names)).toThrow('TLS needs --cert, --key and --cacert together; missing --cert and --key');
});
