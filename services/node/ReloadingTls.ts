import type { experimental } from '@grpc/grpc-js';
import { fileStamp } from './fileStamp';
import { oneLine, readTls, type TlsCheck, type TlsFiles, type TlsMaterial } from '../../clients/client/tlsFiles';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * A node's TLS files as a grpc-js certificate provider (one object for both the CA and the
 * identity), so certificates can be rotated without a restart, as etcd reloads them: `poll()`
 * (on a timer) notices a changed file (modification time, size or inode), reads the three
 * files again and, when they pass the same checks as at start, hands them to the server and
 * to the node's own clients; new connections use them, established ones keep theirs. Files
 * caught mid-write or otherwise bad are reported and the last good set stays in use.
 */
export class ReloadingTls implements experimental.CertificateProvider {
  private material: TlsMaterial;
  private stamp: string;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  /** The stamp of files that failed the checks, so they are reported once, not on every poll. */
  private refusedStamp = '';

  /**
   * `inspect` sees every set that takes effect, the first included (the node warns there when
   * the certificate does not name its listen address).
   */
  constructor(
    private readonly files: TlsFiles,
    private readonly check: TlsCheck,
    private readonly log: (msg: string) => void,
    private readonly inspect: (m: TlsMaterial) => void = () => undefined,
  ) {
    this.stamp = this.stampNow();
    this.material = readTls(files, check);
    inspect(this.material);
  }

  get current(): TlsMaterial {
    return this.material;
  }

  /** Reloads when a file changed; true when a new set took effect. */
  poll(): boolean {
    let stamp: string;
    try {
      stamp = this.stampNow();
    } catch (err) {
      return this.refuse(`missing:${(err as Error).message}`, err);
    }
    if (stamp === this.stamp) return false;
    let next: TlsMaterial;
    try {
      next = readTls(this.files, this.check);
    } catch (err) {
      return this.refuse(stamp, err);
    }
    this.stamp = stamp;
    this.refusedStamp = '';
    if (next.cert.equals(this.material.cert) && next.key.equals(this.material.key) && next.ca.equals(this.material.ca)) return false;
    const leafChanged = !next.cert.equals(this.material.cert);
    this.material = next;
    this.log(leafChanged
      ? `TLS files reloaded: now serving ${oneLine(next.leaf.subject)} (serial ${next.leaf.serialNumber}, valid to ${new Date(next.leaf.validTo).toISOString()})`
      : `TLS files reloaded: new CA certificates (${this.files.caFile}) or key, same certificate (serial ${next.leaf.serialNumber})`);
    this.inspect(next);
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    return true;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // After the caller has registered what waits for it (grpc-js adds its server's watcher
    // after this listener): a synchronous first update would reach no one.
    process.nextTick(() => {
      if (this.caListeners.has(listener)) listener({ caCertificate: this.material.ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      if (this.identityListeners.has(listener)) listener({ certificate: this.material.cert, privateKey: this.material.key });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private stampNow(): string {
    return fileStamp([this.files.certFile, this.files.keyFile, this.files.caFile]);
  }

  private refuse(stamp: string, err: unknown): false {
    if (stamp !== this.refusedStamp) {
      this.refusedStamp = stamp;
      this.log(`warning: TLS files changed but were not reloaded (still serving serial ${this.material.leaf.serialNumber}): ${(err as Error).message}`);
    }
    return false;
  }
}
