// HTTP header and path names the gateway and its browser clients agree on (shared, no imports).

/** Request: the caller's phone id, so its calls stick to one node while that node is healthy. */
export const phoneHeader = 'x-concord-phone';
/** Cookie alternative to the phone header, for clients that cannot set headers. */
export const phoneCookie = 'concord-phone';
/** Request: send this call to the named node (the cluster panel addresses nodes one by one). */
export const targetNodeHeader = 'x-concord-node';
/** Response: the id of the node that served the call. */
export const servedByHeader = 'x-concord-served-by';
/** Response: the call's trace id (the page's traceparent, else one the gateway started for it). */
export const traceIdHeader = 'x-concord-trace-id';
/** GET: JSON of the nodes, their health, which phone each serves, and the Jaeger URL if any. */
export const clusterInfoPath = '/gateway/nodes';

export interface GatewayNodeInfo {
  id: string;
  address: string;
  /** master | witness | replica; only masters serve phones. */
  role: string;
  healthy: boolean;
  /** Why the last health check failed; empty while healthy. */
  lastError: string;
  /** Phones currently stuck to this node. */
  phones: string[];
}

export interface GatewayClusterInfo {
  nodes: GatewayNodeInfo[];
  /** Phone id -> node id serving it. */
  phones: Record<string, string>;
  /** Base URL of a Jaeger UI (traces link to `<jaegerUrl>/trace/<id>`); empty when not configured. */
  jaegerUrl: string;
}
