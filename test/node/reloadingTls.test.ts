import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReloadingTls } from '../../services/node/ReloadingTls';

// The certificate provider behind a TLS node's server and peer credentials, on copies of the
// committed fixtures (test/fixtures/tls).

const fixture = (name: string): string => path.resolve(__dirname, '../fixtures/tls', name);
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-reload-'));
  fs.copyFileSync(fixture('node.pem'), path.join(dir, 'cert.pem'));
  fs.copyFileSync(fixture('node-key.pem'), path.join(dir, 'key.pem'));
  fs.copyFileSync(fixture('ca.pem'), path.join(dir, 'ca.pem'));
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const files = (): { certFile: string; keyFile: string; caFile: string } => ({ certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), caFile: path.join(dir, 'ca.pem') });
const tick = (): Promise<void> => new Promise((r) => process.nextTick(r));

test('listeners hear the current set after they are added (not during), then every set that takes effect', async () => {
  const logs: string[] = [];
  const r = new ReloadingTls(files(), { role: 'node' }, (m) => logs.push(m));
  const identities: string[] = [];
  const cas: number[] = [];
  const onIdentity = (u: { certificate: Buffer } | null): void => void identities.push(u?.certificate.toString().slice(0, 40) ?? 'null');
  r.addIdentityCertificateListener(onIdentity);
  r.addCaCertificateListener((u) => void cas.push(u?.caCertificate.length ?? -1));
  expect(identities).toEqual([]);
  await tick();
  expect(identities).toHaveLength(1);
  expect(cas).toEqual([fs.statSync(fixture('ca.pem')).size]);
  // Unchanged files: nothing happens.
  expect(r.poll()).toBe(false);
  // A certificate without its key: refused, reported once however often it is polled.
  fs.copyFileSync(fixture('node2.pem'), files().certFile);
  expect([r.poll(), r.poll()]).toEqual([false, false]);
  expect(logs.filter((l) => l.includes('were not reloaded'))).toHaveLength(1);
  expect(identities).toHaveLength(1);
  // Its key: the pair takes effect.
  fs.copyFileSync(fixture('node2-key.pem'), files().keyFile);
  expect(r.poll()).toBe(true);
  expect(r.current.leaf.subject).toContain('CN=concord node 2');
  expect(identities).toHaveLength(2);
  expect(cas).toHaveLength(2);
  // A removed listener hears nothing more; a vanished file is refused like a bad one.
  r.removeIdentityCertificateListener(onIdentity);
  fs.rmSync(files().keyFile);
  expect(r.poll()).toBe(false);
  expect(logs.at(-1)).toMatch(/not reloaded .*ENOENT/);
  fs.copyFileSync(fixture('node-key.pem'), files().keyFile);
  fs.copyFileSync(fixture('node.pem'), files().certFile);
  expect(r.poll()).toBe(true);
  expect(identities).toHaveLength(2);
});

test('every set that takes effect is shown to the inspector, the first included; a new CA alone is reported as such', () => {
  const logs: string[] = [];
  const seen: string[] = [];
  const r = new ReloadingTls(files(), { role: 'node' }, (m) => logs.push(m), (m) => seen.push(m.leaf.serialNumber));
  expect(seen).toEqual([r.current.leaf.serialNumber]);
  // Written as an operator should: a new file renamed over the old one.
  fs.writeFileSync(path.join(dir, 'ca.next'), Buffer.concat([fs.readFileSync(fixture('rogue-ca.pem')), fs.readFileSync(fixture('ca.pem'))]));
  fs.renameSync(path.join(dir, 'ca.next'), files().caFile);
  expect(r.poll()).toBe(true);
  expect(logs.at(-1)).toContain('new CA certificates');
  expect(seen).toHaveLength(2);
  // A set OpenSSL refuses never takes effect.
  fs.copyFileSync(fixture('weak.pem'), files().certFile);
  fs.copyFileSync(fixture('weak-key.pem'), files().keyFile);
  expect(r.poll()).toBe(false);
  expect(logs.at(-1)).toContain('OpenSSL refuses');
  expect(seen).toHaveLength(2);
});

test('files that fail the checks at start are refused at once', () => {
  fs.copyFileSync(fixture('client.pem'), files().certFile);
  expect(() => new ReloadingTls(files(), { role: 'node' }, () => undefined)).toThrow('does not belong to the certificate');
});
