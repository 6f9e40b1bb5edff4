import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';

/**
 * PEM files of mutual TLS: this end's certificate (a chain may follow it) and private key, and
 * the CA certificates the other end's certificate must be signed by. A node uses one set both
 * to serve and to dial its peers; a client presents its own certificate to the nodes.
 */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** The files' contents, checked against each other (see readTls). */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  /** The leaf certificate (the first of `cert`). */
  readonly leaf: X509Certificate;
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle, in order. */
function certificates(pem: Buffer, file: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(pemBlock) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new Error(`${file}: certificate ${i + 1} cannot be parsed: ${(err as Error).message}`);
    }
  });
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the ${what} ${file}: ${(err as Error).message}`);
  }
}

export interface TlsCheck {
  /** Default: the current time. */
  readonly now?: Date;
  /**
   * `node`: the certificate serves and dials, so it must allow server and client
   * authentication, and its CA, which checks the node's peers as they check it, must have
   * signed it up to a root. `client` (default): it only dials, so client authentication is enough, and
   * its CA checks only the nodes (which may trust another CA for clients).
   */
  readonly role?: 'node' | 'client';
}

/** A node certificate expiring sooner than this is warned about at start, on reload and in `concord status`. */
export const certificateExpiryWarningDays = 30;

/** Whole days from `nowMs` until `notAfterMs` (negative once past). */
export function daysLeft(notAfterMs: number, nowMs: number): number {
  return Math.floor((notAfterMs - nowMs) / 86_400_000);
}

/** A distinguished name as X509Certificate gives it (one attribute per line) on one line. */
export function oneLine(dn: string): string {
  return dn.replace(/\n/g, ', ');
}

/**
 * Whether a certificate names one of `hosts` (an IP address in its subject alternative names, a
 * DNS name in them or, lacking any, in its common name, as TLS checks a server's).
 */
export function certificateNamesHost(cert: X509Certificate, hosts: readonly string[]): boolean {
  return hosts.some((h) => (isIP(h) !== 0 ? cert.checkIP(h) !== undefined : cert.checkHost(h) !== undefined));
}

/**
 * Whether a certificate is a node's certificate for one of `hosts`: it allows server
 * authentication (extended key usage, or has none; a node serves with it, a client's need not) and
 * names one of the hosts in its subject alternative names (never by its common name, which a
 * client certificate may set to anything). The peer-only services and the access policy's
 * "forwarded for" rule take a caller for a node by it.
 */
export function isNodeCertificate(cert: X509Certificate, hosts: readonly string[]): boolean {
  // Without the extension a certificate may serve any purpose (as TLS itself takes it).
  const usage = cert.keyUsage as string[] | undefined;
  if (usage !== undefined && !usage.includes(serverAuth)) return false;
  return hosts.some((h) => (isIP(h) !== 0 ? cert.checkIP(h) !== undefined : cert.checkHost(h, { subject: 'never' }) !== undefined));
}

const serverAuth = '1.3.6.1.5.5.7.3.1';
const clientAuth = '1.3.6.1.5.5.7.3.2';
const name = (c: X509Certificate): string => oneLine(c.subject);
/** What each role's certificate is used for: the extended key usages it needs, and why. */
const uses = {
  node: { needs: [serverAuth, clientAuth], why: 'a node serves and also dials its peers with it' },
  client: { needs: [clientAuth], why: 'a client presents it to the nodes' },
} as const;

function checkDates(c: X509Certificate, file: string, now: Date): void {
  const from = new Date(c.validFrom);
  const to = new Date(c.validTo);
  if (now < from) throw new Error(`the certificate ${name(c)} in ${file} is not valid before ${from.toISOString()}`);
  if (now > to) throw new Error(`the certificate ${name(c)} in ${file} expired on ${to.toISOString()}`);
}

/** `c` was signed by `issuer` (names match and the signature verifies). */
const issuedBy = (c: X509Certificate, issuer: X509Certificate): boolean => c.checkIssued(issuer) && c.verify(issuer.publicKey);

/**
 * The certificate chain and its key: the key belongs to the leaf, each certificate is signed by
 * the next, all are valid at `now`, and the leaf's extended key usage (when it has one) names
 * every use in `needs` (`why` says what the certificate is for).
 */
function checkPair(cert: Buffer, key: Buffer, certFile: string, keyFile: string, now: Date, needs: readonly string[], why: string): X509Certificate[] {
  const chain = certificates(cert, certFile);
  const leaf = chain[0] as X509Certificate;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${keyFile} holds no usable private key: ${(err as Error).message}`);
  }
  if (privateKey.type !== 'private') throw new Error(`${keyFile} holds no private key`);
  if (!leaf.checkPrivateKey(privateKey)) throw new Error(`the key in ${keyFile} does not belong to the certificate in ${certFile} (${name(leaf)})`);
  const linked = chain.every((c, i) => i === 0 || issuedBy(chain[i - 1] as X509Certificate, c));
  if (!linked) throw new Error(`the certificates in ${certFile} do not form a chain: each must be signed by the next`);
  for (const c of chain) checkDates(c, certFile, now);
  // No extended key usage means any use; with one, it must name what this end does.
  const usage = leaf.keyUsage as string[] | undefined;
  const lacking = needs.filter((u) => usage !== undefined && !usage.includes(u)).map((u) => (u === serverAuth ? 'serverAuth' : 'clientAuth'));
  if (lacking.length > 0) throw new Error(`the certificate in ${certFile} (${name(leaf)}) does not allow ${lacking.join(' and ')} (extended key usage): ${why}, and the other end would refuse it`);
  // What OpenSSL itself refuses (a key too small for its security level, say) would otherwise
  // surface only as connections dropped later.
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`OpenSSL refuses the certificate in ${certFile} with the key in ${keyFile}: ${(err as Error).message}`);
  }
  return chain;
}

/**
 * Checks what TLS would otherwise report only as a failed handshake on the other end, or not
 * at all until it expires: the key belongs to the certificate; the chain after it links up; the
 * certificate's extended key usage allows the role; for a node, the CA file holds the chain's
 * issuers up to a self-signed root (Node verifies no partial chain); and the certificates used
 * are valid at `now`. Other certificates in the CA file (a previous CA kept during a rotation)
 * are not checked.
 */
export function checkTls(cert: Buffer, key: Buffer, ca: Buffer, files: TlsFiles, check: TlsCheck = {}): TlsMaterial {
  const now = check.now ?? new Date();
  const role = check.role ?? 'client';
  const chain = checkPair(cert, key, files.certFile, files.keyFile, now, uses[role].needs, uses[role].why);
  const roots = certificates(ca, files.caFile);
  try {
    createSecureContext({ ca });
  } catch (err) {
    throw new Error(`OpenSSL refuses the CA certificates in ${files.caFile}: ${(err as Error).message}`);
  }
  const leaf = chain[0] as X509Certificate;
  if (role === 'node') {
    // Up from the chain's last certificate through the CA file to a self-signed root.
    let at = chain[chain.length - 1] as X509Certificate;
    for (let hops = 0; ; hops++) {
      const self = roots.find((r) => r.fingerprint256 === at.fingerprint256);
      if (self !== undefined && issuedBy(self, self)) break;
      const parent = roots.find((r) => r.fingerprint256 !== at.fingerprint256 && issuedBy(at, r));
      if (parent === undefined || hops > roots.length) {
        const detail = at === leaf || self === undefined
          ? `is not signed by a CA in ${files.caFile}: its peers, which trust that CA, would refuse it`
          : `is signed by ${name(at)} in ${files.caFile}, whose issuer (${oneLine(at.issuer)}) is not there: the CA file must hold the chain up to its root`;
        throw new Error(`the certificate in ${files.certFile} (${name(leaf)}, issued by ${oneLine(leaf.issuer)}) ${detail}`);
      }
      checkDates(parent, files.caFile, now);
      at = parent;
    }
  }
  return { cert, key, ca, leaf };
}

/** A certificate (chain) and key served to browsers: HTTPS without client certificates. */
export interface ServingFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Reads and checks a served certificate and its key (as checkTls, for serverAuth, with no CA). */
export function readServing(files: ServingFiles, now = new Date()): { cert: Buffer; key: Buffer; leaf: X509Certificate } {
  const cert = read(files.certFile, 'certificate');
  const key = read(files.keyFile, 'private key');
  const chain = checkPair(cert, key, files.certFile, files.keyFile, now, [serverAuth], 'browsers are served it');
  return { cert, key, leaf: chain[0] as X509Certificate };
}

/** Reads and checks a set of TLS files; throws a message naming the file at fault. */
export function readTls(files: TlsFiles, check: TlsCheck = {}): TlsMaterial {
  return checkTls(read(files.certFile, 'certificate'), read(files.keyFile, 'private key'), read(files.caFile, 'CA certificate'), files, check);
}

/**
 * TLS files from command-line options: all three or none (undefined). `names` are the options'
 * names, for the error.
 */
export function tlsFilesFrom(
  given: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
  names: { cert: string; key: string; ca: string },
): TlsFiles | undefined {
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  const { cert, key, ca } = given;
  if (!set(cert) && !set(key) && !set(ca)) return undefined;
  if (set(cert) && set(key) && set(ca)) return { certFile: cert, keyFile: key, caFile: ca };
  const missing = (['cert', 'key', 'ca'] as const).filter((k) => !set(given[k])).map((k) => names[k]);
  throw new Error(`TLS needs ${names.cert}, ${names.key} and ${names.ca} together; missing ${missing.join(' and ')}`);
}
