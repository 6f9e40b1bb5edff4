import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { readTls, type TlsFiles, type TlsMaterial } from './tlsFiles';

/**
 * Channel credentials of mutual TLS: the server's certificate must be signed by the CA and name
 * the host dialled (an IP address must be in its subject alternative names), and this end
 * presents its own certificate.
 */
export function tlsChannelCredentials(tls: TlsFiles | TlsMaterial): ChannelCredentials {
  const m = 'leaf' in tls ? tls : readTls(tls);
  return credentials.createSsl(m.ca, m.key, m.cert);
}
