import { credentials, ServerCredentials, type ChannelCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { certificateNamesHost, peerCertificateInterceptor } from '../rpc/peerCertificateInterceptor';
import { tlsChannelCredentials } from '../../clients/client/tlsCredentials';
import { readTls, type TlsFiles } from '../../clients/client/tlsFiles';

/** How a node serves and dials: both insecure, or both mutual TLS under the cluster's CA. */
export interface TransportCredentials {
  readonly tls: boolean;
  readonly server: ServerCredentials;
  /** For the node's own calls to its peers (replication, consensus, forwarded KV writes). */
  readonly peers: ChannelCredentials;
  /** With TLS: peer services answer only certificates naming a peer (peerCertificateInterceptor). */
  readonly interceptors: readonly ServerInterceptor[];
}

/** The services only nodes call. */
export const peerOnlyServices = ['concord.v1.PeerService', 'concord.v1.RaftService'] as const;

/**
 * Without files: insecure, for loopback development clusters. With them: the node serves TLS
 * and requires every caller (peer, client, gateway) to present a certificate signed by the CA,
 * and dials its peers presenting its own certificate, checking theirs against the same CA and
 * the address dialled; the services only nodes call answer only certificates that name one of
 * `peerAddresses`' hosts (peerCertificateInterceptor). The files are read and checked once, at
 * start (rotating them takes a restart). `warn` hears of a certificate that does not name the host the node listens on:
 * whoever dials that address would refuse it.
 */
export function transportCredentials(files: TlsFiles | undefined, listen: string, peerAddresses: readonly string[], warn: (msg: string) => void): TransportCredentials {
  if (files === undefined) return { tls: false, server: ServerCredentials.createInsecure(), peers: credentials.createInsecure(), interceptors: [] };
  const m = readTls(files, { role: 'node' });
  const host = hostOf(listen);
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const named = certificateNamesHost(m.leaf, [host]);
  if (!wildcard && !named) {
    warn(`the certificate in ${files.certFile} (${m.leaf.subjectAltName ?? 'no subject alternative names'}) does not name ${host}, the host this node listens on: peers and clients dialling ${listen} will refuse it`);
  }
  return {
    tls: true,
    server: ServerCredentials.createSsl(m.ca, [{ private_key: m.key, cert_chain: m.cert }], true),
    peers: tlsChannelCredentials(m),
    interceptors: [peerCertificateInterceptor(peerOnlyServices, [...new Set(peerAddresses.map(hostOf))])],
  };
}

/** The host of `host:port` (brackets of an IPv6 address removed). */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
}
