import { AdminServiceService } from '../../proto/gen/concord/v1/admin';
import { DocumentServiceService } from '../../proto/gen/concord/v1/documents';
import { KvServiceService } from '../../proto/gen/concord/v1/kv';

// The methods the gateway forwards, read from the generated service definitions so a method
// added to a proto is forwarded without touching the gateway (and its streaming shape is known
// without a schema). Peer and Raft services are node-to-node and deliberately not exposed.

export interface GrpcRoute {
  readonly path: string;
  readonly responseStream: boolean;
  /** Calls the gateway signs with the admin token it holds (never shown to pages). */
  readonly needsAdminToken: boolean;
}

interface MethodShape {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

const adminGuarded = new Set<string>([AdminServiceService.setLinkFaults.path]);

function routesOf(service: Readonly<Record<string, MethodShape>>): GrpcRoute[] {
  // gRPC-Web has no client streaming; no exposed method uses it, and one that did is skipped.
  return Object.values(service)
    .filter((m) => !m.requestStream)
    .map((m) => ({ path: m.path, responseStream: m.responseStream, needsAdminToken: adminGuarded.has(m.path) }));
}

export const grpcRoutes: ReadonlyMap<string, GrpcRoute> = new Map(
  [DocumentServiceService, KvServiceService, AdminServiceService].flatMap(routesOf).map((r) => [r.path, r]),
);
