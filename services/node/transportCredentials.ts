import { credentials, experimental, ServerCredentials, type ChannelCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { peerCertificateInterceptor } from '../rpc/peerCertificateInterceptor';
import { certificateExpiryWarningDays, certificateNamesHost, daysLeft, type TlsFiles } from '../../clients/client/tlsFiles';
import { ReloadingTls } from './ReloadingTls';

/** How a node serves and dials: both insecure, or both mutual TLS under the cluster's CA (then `reloader` is set). */
export interface TransportCredentials {
  readonly server: ServerCredentials;
  /** For the node's own calls to its peers (replication, consensus, forwarded KV writes). */
  readonly peers: ChannelCredentials;
  /** With TLS: peer services answer only certificates naming a peer (peerCertificateInterceptor). */
  readonly interceptors: readonly ServerInterceptor[];
  /** With TLS: the files, reloaded by `poll()` when they change (the node polls on a timer). */
  readonly reloader?: ReloadingTls;
}

/** How often a TLS node looks for rotated files (a stat of each; read only when one changed). */
export const tlsReloadIntervalMsDefault = 10_000;

/** The services only nodes call. */
export const peerOnlyServices = ['concord.v1.PeerService', 'concord.v1.RaftService'] as const;

/**
 * Without files: insecure, for loopback development clusters. With them: the node serves TLS
 * and requires every caller (peer, client, gateway) to present a certificate signed by the CA,
 * and dials its peers presenting its own certificate, checking theirs against the same CA and
 * the address dialled; the services only nodes call answer only certificates that name one of
 * `peerAddresses`' hosts (peerCertificateInterceptor). The files are read and checked at start,
 * and again whenever they change (ReloadingTls): rotated certificates take effect for new
 * connections without a restart. `log` hears of reloads, and of a certificate that does not
 * name the host the node listens on: whoever dials that address would refuse it.
 */
export function transportCredentials(files: TlsFiles | undefined, listen: string, peerAddresses: readonly string[], log: (msg: string) => void): TransportCredentials {
  if (files === undefined) return { server: ServerCredentials.createInsecure(), peers: credentials.createInsecure(), interceptors: [] };
  const host = hostOf(listen);
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  // A warning, not a refusal: peers may dial the node by a name the certificate does carry.
  const reloader = new ReloadingTls(files, { role: 'node' }, log, (m) => {
    const days = daysLeft(Date.parse(m.leaf.validTo), Date.now());
    if (days < certificateExpiryWarningDays) log(`warning: the certificate in ${files.certFile} expires in ${days} days (${new Date(m.leaf.validTo).toISOString()}): write its successor over it (the node reloads rotated files)`);
    if (!wildcard && !certificateNamesHost(m.leaf, [host])) {
      log(`warning: the certificate in ${files.certFile} (${m.leaf.subjectAltName ?? 'no subject alternative names'}) does not name ${host}, the host this node listens on: peers and clients dialling ${listen} will refuse it`);
    }
  });
  return {
    // One provider for both roles (grpc-js's server factory names its two arguments in the
    // opposite order to its class's constructor, which one object makes moot).
    server: experimental.createCertificateProviderServerCredentials(reloader, reloader, true),
    peers: experimental.createCertificateProviderChannelCredentials(reloader, reloader),
    interceptors: [peerCertificateInterceptor(peerOnlyServices, peerHostsOf(peerAddresses))],
    reloader,
  };
}

/** The hosts of the peers' addresses: a certificate naming one of them is a node's (see peerCertificateInterceptor). */
export function peerHostsOf(peerAddresses: readonly string[]): string[] {
  return [...new Set(peerAddresses.map(hostOf))];
}

/** The host of `host:port` (brackets of an IPv6 address removed). */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
}
