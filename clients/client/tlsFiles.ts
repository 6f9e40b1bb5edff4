import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

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
   * The certificate must be signed by one of the CA certificates: true for a node, whose CA
   * checks its peers as well as them checking it. A client's CA checks only the nodes.
   */
  readonly signedByCa?: boolean;
}

/**
 * Checks what TLS would otherwise report only as a failed handshake on the other end, or not
 * at all until it expires: the key belongs to the certificate, the chain after it links up,
 * every certificate is valid at `now`, and (with `signedByCa`) a CA certificate signed it.
 */
export function checkTls(cert: Buffer, key: Buffer, ca: Buffer, files: TlsFiles, check: TlsCheck = {}): TlsMaterial {
  const now = check.now ?? new Date();
  const chain = certificates(cert, files.certFile);
  const roots = certificates(ca, files.caFile);
  const leaf = chain[0] as X509Certificate;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${files.keyFile} holds no usable private key: ${(err as Error).message}`);
  }
  if (privateKey.type !== 'private') throw new Error(`${files.keyFile} holds no private key`);
  if (!leaf.checkPrivateKey(privateKey)) throw new Error(`the key in ${files.keyFile} does not belong to the certificate in ${files.certFile} (${leaf.subject.replace(/\n/g, ', ')})`);
  for (const [c, file] of [...chain.map((c) => [c, files.certFile] as const), ...roots.map((c) => [c, files.caFile] as const)]) {
    const from = new Date(c.validFrom);
    const to = new Date(c.validTo);
    if (now < from) throw new Error(`the certificate ${c.subject.replace(/\n/g, ', ')} in ${file} is not valid before ${from.toISOString()}`);
    if (now > to) throw new Error(`the certificate ${c.subject.replace(/\n/g, ', ')} in ${file} expired on ${to.toISOString()}`);
  }
  // The chain's last certificate must be issued by a CA certificate (or be one of them).
  const top = chain[chain.length - 1] as X509Certificate;
  const trusted = roots.some((r) => r.fingerprint256 === top.fingerprint256 || (top.checkIssued(r) && top.verify(r.publicKey)));
  const linked = chain.every((c, i) => i === 0 || ((chain[i - 1] as X509Certificate).checkIssued(c) && (chain[i - 1] as X509Certificate).verify(c.publicKey)));
  if (!linked) throw new Error(`the certificates in ${files.certFile} do not form a chain: each must be signed by the next`);
  if (check.signedByCa === true && !trusted) throw new Error(`the certificate in ${files.certFile} (${leaf.subject.replace(/\n/g, ', ')}, issued by ${leaf.issuer.replace(/\n/g, ', ')}) is not signed by a CA in ${files.caFile}: its peers, which trust that CA, would refuse it`);
  return { cert, key, ca, leaf };
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
