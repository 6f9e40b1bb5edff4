import { ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { isNodeCertificate, oneLine } from '../../clients/client/tlsFiles';

/**
 * On a mutual TLS node, the services only nodes call (document replication and anti-entropy,
 * consensus messages) answer only callers with a node's certificate (isNodeCertificate: it
 * allows server authentication and names the host of one of this node's peers among its
 * subject alternative names, as a node's own must, since peers dial it by that address): any
 * other certificate the cluster's CA signed, a client's, gets PERMISSION_DENIED before the handler
 * runs, so it cannot inject replication or consensus traffic. Other services are untouched.
 * A transport check, not a domain error: it never reaches the error table.
 */
export function peerCertificateInterceptor(services: readonly string[], peerHosts: readonly string[]): ServerInterceptor {
  const prefixes = services.map((s) => `/${s}/`);
  const allowed = new Map<string, boolean>();
  return (method, call) => {
    if (!prefixes.some((p) => method.path.startsWith(p))) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const raw = call.getAuthContext().sslPeerCertificate?.raw;
            const key = raw?.toString('base64') ?? '';
            let ok = allowed.get(key);
            if (ok === undefined) {
              ok = raw !== undefined && isNodeCertificate(new X509Certificate(raw), peerHosts);
              if (allowed.size > 1000) allowed.clear();
              allowed.set(key, ok);
            }
            if (ok) return mdNext(metadata);
            const who = raw === undefined ? 'no certificate' : describe(new X509Certificate(raw));
            call.sendStatus({
              code: status.PERMISSION_DENIED,
              details: `${method.path.slice(1, method.path.lastIndexOf('/'))} is for the cluster's nodes: the caller's certificate (${who}) is not a node's (one that allows server authentication and names one of this node's peers, ${peerHosts.join(', ')}, among its subject alternative names)`,
            });
          },
        });
      },
    });
  };
}

function describe(cert: X509Certificate): string {
  return [oneLine(cert.subject), cert.subjectAltName].filter((s) => s !== undefined && s !== '').join('; ');
}
