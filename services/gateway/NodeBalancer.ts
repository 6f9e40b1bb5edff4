import { Client, credentials, Metadata, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { HealthClient } from '../../clients/client/HealthClient';
import type { GatewayClusterInfo } from './gatewayHeaders';
import { StickyPhones } from './StickyPhones';

// Which node serves a call. Every node is health-checked (grpc.health.v1) every intervalMs; a
// failed check, or a transport failure reported by the proxy (which triggers a check at once),
// takes the node out, so a dead node is skipped within about one interval. Calls with a phone
// id stick to its node (StickyPhones); calls without one rotate. Only masters are balanced
// onto (replicas refuse writes, witnesses hold no documents); any node can be named.

export interface GatewayNode {
  readonly id: string;
  readonly address: string;
  /** A witness holds no documents: never balanced onto, only addressed by id (panel Status). */
  readonly role?: 'master' | 'witness' | 'replica';
}

export interface BalancedNode {
  readonly id: string;
  readonly address: string;
  /** Schema-less grpc-js client; the proxy calls it with identity serializers. */
  readonly client: Client;
}

interface NodeState extends BalancedNode {
  readonly role: string;
  readonly balanced: boolean;
  readonly health: HealthClient;
  healthy: boolean;
  lastError: string;
  checking: boolean;
}

export interface NodeBalancerOptions {
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  /** Default 60 s; phones poll every few seconds while open, so only closed ones expire. */
  stickyTtlMs?: number;
  /** How to dial the nodes (mutual TLS when the cluster uses it; default insecure). */
  credentials?: ChannelCredentials;
}

// Short reconnect backoff: grpc-js defaults to 1 s growing to 120 s, which would keep a
// restarted node out of rotation long after it is back.
const channelOptions: ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.max_send_message_length': 64 << 20,
};

export class NodeBalancer {
  private readonly nodes: NodeState[];
  private readonly sticky: StickyPhones;
  private readonly timer: NodeJS.Timeout;
  private readonly timeoutMs: number;
  private next = 0;

  constructor(nodes: readonly GatewayNode[], options: NodeBalancerOptions = {}) {
    if (nodes.length === 0) throw new RangeError('the gateway needs at least one node');
    // A stopped (not dead) node is caught by the deadline; a dead one refuses at once. 1 s leaves
    // room for a first connection on a loaded machine, and still takes a hung node out in ~1.5 s.
    this.timeoutMs = options.healthTimeoutMs ?? 1000;
    this.sticky = new StickyPhones(options.stickyTtlMs);
    const creds = options.credentials ?? credentials.createInsecure();
    this.nodes = nodes.map((n) => ({
      id: n.id,
      address: n.address,
      role: n.role ?? 'master',
      balanced: n.role === undefined || n.role === 'master',
      client: new Client(n.address, creds, channelOptions),
      health: new HealthClient(n.address, creds, channelOptions),
      healthy: true,
      lastError: '',
      checking: false,
    }));
    this.timer = setInterval(() => {
      void this.checkAll();
      this.sticky.forgetSilent();
    }, options.healthIntervalMs ?? 500);
    this.timer.unref();
  }

  /** Resolves after one round of health checks, so the first calls do not hit a dead node. */
  checkAll(): Promise<void> {
    return Promise.all(this.nodes.map((n) => this.check(n))).then(() => undefined);
  }

  /** The node for a call: the named one if given, else the phone's sticky node, else rotation. */
  pick(phone: string | undefined, nodeId: string | undefined): BalancedNode | undefined {
    if (nodeId !== undefined) return this.nodes.find((n) => n.id === nodeId);
    const balanced = this.nodes.filter((n) => n.balanced);
    // No node looks healthy: try them all rather than refuse (the checks may be what is wrong).
    const candidates = balanced.some((n) => n.healthy) ? balanced.filter((n) => n.healthy) : balanced;
    if (phone === undefined) return candidates.length === 0 ? undefined : candidates[this.next++ % candidates.length];
    const id = this.sticky.pick(phone, candidates.map((n) => n.id));
    return candidates.find((n) => n.id === id);
  }

  /** The proxy saw a transport failure on this node: check it now rather than at the next tick. */
  reportFailure(id: string): void {
    const node = this.nodes.find((n) => n.id === id);
    if (node !== undefined) void this.check(node);
  }

  info(jaegerUrl: string): GatewayClusterInfo {
    const phones = this.sticky.snapshot();
    return {
      nodes: this.nodes.map((n) => ({
        id: n.id,
        address: n.address,
        role: n.role,
        healthy: n.healthy,
        lastError: n.lastError,
        phones: Object.keys(phones).filter((p) => phones[p] === n.id),
      })),
      phones,
      jaegerUrl,
    };
  }

  close(): void {
    clearInterval(this.timer);
    for (const n of this.nodes) {
      n.client.close();
      n.health.close();
    }
  }

  private check(node: NodeState): Promise<void> {
    if (node.checking) return Promise.resolve();
    node.checking = true;
    return new Promise<void>((resolve) => {
      node.health.check({ service: '' }, new Metadata(), { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        node.checking = false;
        node.healthy = err === null && res?.status === 'SERVING';
        node.lastError = err !== null ? shortError(err.details || err.message) : node.healthy ? '' : `health: ${res?.status ?? 'no answer'}`;
        resolve();
      });
    });
  }
}

/** grpc-js wraps connection errors in boilerplate; the panel shows only the cause. */
function shortError(message: string): string {
  return /Last error: (?:Error: )?(.*?)\.? Resolution note/.exec(message)?.[1] ?? message;
}
