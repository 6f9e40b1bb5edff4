import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tlsChannelCredentials } from '../../clients/client/tlsCredentials';
import { readServing, type ServingFiles, type TlsFiles } from '../../clients/client/tlsFiles';
import { clusterInfoPath } from './gatewayHeaders';
import { grpcRoutes } from './grpcRoutes';
import { hostAllowed } from './hostAllowed';
import { NodeBalancer, type GatewayNode } from './NodeBalancer';
import { proxyGrpcWeb } from './proxyGrpcWeb';
import { serveStatic } from './serveStatic';

// The HTTP/1.1 edge for browsers and phones: gRPC-Web for the document, KV and admin services,
// balanced over healthy nodes; a JSON view of the nodes for the demo's cluster panel; and the
// built demo app. It holds the cluster's admin token so the panel can cut and heal links, and
// never sends it to a page. No CORS headers: only pages it serves itself may call it, so no
// other site open in the same browser can reach the admin calls through it; and a request must
// name it by an IP address, localhost or an allowed name (hostAllowed), so no other site can
// become same-origin with it by DNS rebinding.

export interface GatewayOptions {
  nodes: readonly GatewayNode[];
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: the gateway signs admin calls, so it is not exposed unless asked. */
  host?: string;
  adminToken?: string;
  /** The built app (clients/mobile: buildMobileApp); without it only the APIs are served. */
  staticDir?: string;
  /** Jaeger UI base URL; the panel links trace ids to it. */
  jaegerUrl?: string;
  healthIntervalMs?: number;
  maxRequestBytes?: number;
  /** Names (besides IP addresses and localhost) requests may call the gateway by; `*` for any. */
  allowedHosts?: readonly string[];
  /** Mutual TLS to nodes started with --tls-*: the gateway's certificate and key, and the cluster's CA. */
  tls?: TlsFiles;
  /** Serve HTTPS with this certificate and key instead of plain HTTP (phones and browsers on a LAN). */
  https?: ServingFiles;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly balancer: NodeBalancer;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  // Checked first: bad files are refused before the node health checks start.
  const served = options.https === undefined ? undefined : readServing(options.https);
  const balancer = new NodeBalancer(options.nodes, { healthIntervalMs: options.healthIntervalMs, credentials: options.tls === undefined ? undefined : tlsChannelCredentials(options.tls) });
  await balancer.checkAll();
  const ctx = { balancer, adminToken: options.adminToken, maxRequestBytes: options.maxRequestBytes ?? 8 << 20 };
  const jaegerUrl = (options.jaegerUrl ?? '').replace(/\/+$/, '');

  const allowedHosts = options.allowedHosts ?? [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!hostAllowed(req.headers.host, allowedHosts)) {
      const name = JSON.stringify(req.headers.host ?? '');
      res.writeHead(403, { 'content-type': 'text/plain' }).end(`host ${name} is not allowed (DNS rebinding defence): call the gateway by an IP address or localhost, or allow the name, without its port, with --allowed-hosts or CONCORD_ALLOWED_HOSTS\n`);
      return;
    }
    const pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
    const route = grpcRoutes.get(pathname);
    if (route !== undefined && req.method === 'POST') {
      proxyGrpcWeb(req, res, route, ctx).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`gateway error: ${err instanceof Error ? err.message : String(err)}\n`);
      });
      return;
    }
    if (pathname === clusterInfoPath && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(balancer.info(jaegerUrl)));
      return;
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && options.staticDir !== undefined) {
      serveStatic(options.staticDir, req, res, pathname);
      return;
    }
    if (route !== undefined) res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('gRPC-Web calls are POSTs\n');
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  };

  const server = served === undefined ? createServer(handle) : createHttpsServer({ cert: served.cert, key: served.key }, handle);
  // Every socket, handshakes in progress included: closeAllConnections knows only those that
  // became HTTP connections, and a TLS handshake left hanging held close() for two minutes.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Watches are long-lived responses; the default request timeout (5 min) would cut them.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 30_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: gatewayUrl(served === undefined ? 'http' : 'https', host, port),
    port,
    balancer,
    close: async () => {
      balancer.close();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The address to show for a gateway listening on `host`: a wildcard (every interface) is shown
 * as this machine's loopback address, which does reach it, instead of 0.0.0.0, which a browser
 * cannot open.
 */
export function gatewayUrl(scheme: 'http' | 'https', host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' || host === '[::]' ? '::1' : host;
  return `${scheme}://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}
