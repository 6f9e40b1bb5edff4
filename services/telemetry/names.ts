// Every span, attribute, event and metric name Concord emits, in one place. Where OpenTelemetry's
// semantic conventions define a name (RPC spans and metrics, service resource attributes) it is
// used as is; Concord's own names live under `concord.`. Operators search Jaeger and Prometheus
// with these strings, so renaming one is a breaking change.

/** `service.name` of each component (OTEL_SERVICE_NAME overrides it). */
export const serviceNames = {
  node: 'concord-node',
  cli: 'concord-cli',
  gateway: 'concord-gateway',
} as const;

/** Instrumentation scope of every span and instrument Concord creates itself. */
export const instrumentationScope = 'concord';

// Resource attributes (semantic conventions).
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';

// RPC attributes as the gRPC instrumentation writes them (semantic conventions for RPC).
export const ATTR_RPC_SYSTEM = 'rpc.system';
export const ATTR_RPC_SERVICE = 'rpc.service';
export const ATTR_RPC_METHOD = 'rpc.method';
export const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
export const RPC_SYSTEM_GRPC = 'grpc';

/**
 * RPC span name as @opentelemetry/instrumentation-grpc writes it (`grpc.<package.Service>/<Method>`),
 * so explicitly instrumented clients show up under the same operation as auto-instrumented ones.
 */
export function rpcSpanName(path: string): string {
  return `grpc.${path.replace(/^\//, '')}`;
}

/**
 * gRPC methods never traced (neither the client nor the server side): high-rate or stream-long
 * internals whose work is traced by the spans below instead. Raft `Deliver` runs every tick,
 * `Replicate` is one stream per peer for the life of the process (each update it carries gets a
 * span of its own), `Digest` is the quiet part of every anti-entropy round, `Check` and
 * reflection are tooling. Matched against the method name, as the gRPC instrumentation does.
 */
export const untracedGrpcMethods: readonly string[] = ['Deliver', 'Replicate', 'Digest', 'Check', 'ServerReflectionInfo'];

// Concord span names.
export const SPAN_DOCUMENT_PERSIST = 'concord.document.persist';
export const SPAN_DOCUMENT_ACK_WAIT = 'concord.document.ack_wait';
export const SPAN_REPLICATION_SEND = 'concord.replication.send';
export const SPAN_REPLICATION_APPLY = 'concord.replication.apply';
export const SPAN_ANTI_ENTROPY_ROUND = 'concord.anti_entropy.round';
export const SPAN_CONSENSUS_PROPOSE = 'concord.consensus.propose';
export const SPAN_CONSENSUS_APPEND = 'concord.consensus.append';
export const SPAN_CONSENSUS_COMMIT = 'concord.consensus.commit';
export const SPAN_CONSENSUS_APPLY = 'concord.consensus.apply';
export const SPAN_PARTITION_EPISODE = 'concord.partition.episode';

// Concord span events.
export const EVENT_PARTITION_CUT = 'concord.partition.cut';
export const EVENT_PARTITION_HEALED = 'concord.partition.healed';
export const EVENT_PARTITION_CONVERGED = 'concord.partition.converged';

// Concord attributes.
export const ATTR_NODE_ID = 'concord.node.id';
export const ATTR_PEER_NODE_ID = 'concord.peer.node_id';
export const ATTR_DOCUMENT_ID = 'concord.document.id';
export const ATTR_ACK_LEVEL = 'concord.ack_level';
export const ATTR_ACK_REQUIRED = 'concord.ack.required';
export const ATTR_ACKED_BY = 'concord.ack.acked_by';
export const ATTR_UPDATE_BYTES = 'concord.update.bytes';
export const ATTR_UPDATE_ORIGIN = 'concord.update.origin';
export const ATTR_REPLICATION_SEQ = 'concord.replication.seq';
export const ATTR_REPLICATION_OUTCOME = 'concord.replication.outcome';
export const ATTR_AE_DOCUMENTS = 'concord.anti_entropy.documents';
export const ATTR_AE_BYTES_SENT = 'concord.anti_entropy.bytes_sent';
export const ATTR_AE_BYTES_RECEIVED = 'concord.anti_entropy.bytes_received';
export const ATTR_AE_DIFFERING_BUCKETS = 'concord.anti_entropy.differing_buckets';
export const ATTR_AE_LEVELS_WALKED = 'concord.anti_entropy.levels_walked';
/** The round synced the owed documents both sides named instead of comparing digests. */
export const ATTR_AE_DIRECTED = 'concord.anti_entropy.directed';
export const ATTR_RAFT_INDEX = 'concord.consensus.index';
export const ATTR_RAFT_TERM = 'concord.consensus.term';
export const ATTR_RAFT_ROLE = 'concord.consensus.role';
export const ATTR_RAFT_COMMAND = 'concord.consensus.command';
export const ATTR_RAFT_ENTRIES = 'concord.consensus.entries';
export const ATTR_PARTITION_EPISODE_ID = 'concord.partition.episode_id';
export const ATTR_PARTITION_CAUSE = 'concord.partition.cause';
export const ATTR_PARTITION_LOCAL_UPDATES = 'concord.partition.local_updates';
export const ATTR_PARTITION_REMOTE_UPDATES = 'concord.partition.remote_updates';
export const ATTR_PARTITION_DOCUMENTS_DIVERGED = 'concord.partition.documents_diverged';
export const ATTR_PARTITION_DOCUMENTS_EXCHANGED = 'concord.partition.documents_exchanged';
export const ATTR_PARTITION_BYTES_EXCHANGED = 'concord.partition.bytes_exchanged';
export const ATTR_PARTITION_DURATION_MS = 'concord.partition.duration_ms';
export const ATTR_PARTITION_CONVERGE_MS = 'concord.partition.converge_ms';

// Metric names (OpenTelemetry names, units in the instrument, not the name). The Prometheus
// exporter turns dots into underscores, adds `_total` to counters and states the unit in a
// `# UNIT` line: rpc.server.call.duration (s) is served as rpc_server_call_duration_bucket/_sum/
// _count, concord.partition.episodes as concord_partition_episodes_total.
export const METRIC_RPC_SERVER_CALL_DURATION = 'rpc.server.call.duration';
export const METRIC_REPLICATION_BACKLOG_UPDATES = 'concord.replication.backlog.updates';
export const METRIC_REPLICATION_BACKLOG_BYTES = 'concord.replication.backlog.bytes';
export const METRIC_REPLICATION_LAG = 'concord.replication.lag';
export const METRIC_REPLICATION_DROPPED = 'concord.replication.dropped_updates';
export const METRIC_PARTITION_EPISODES = 'concord.partition.episodes';
export const METRIC_PARTITION_OPEN = 'concord.partition.open';
export const METRIC_PARTITION_DIVERGENT_UPDATES = 'concord.partition.divergent_updates';
export const METRIC_PARTITION_CONVERGE_DURATION = 'concord.partition.converge.duration';
export const METRIC_ANTI_ENTROPY_ROUNDS = 'concord.anti_entropy.rounds';
export const METRIC_ANTI_ENTROPY_BYTES = 'concord.anti_entropy.bytes';
export const METRIC_CONSENSUS_COMMIT_DURATION = 'concord.consensus.commit.duration';
export const METRIC_CONSENSUS_TERM = 'concord.consensus.term';
export const METRIC_CONSENSUS_LEADER_CHANGES = 'concord.consensus.leader_changes';
export const METRIC_CONSENSUS_IS_LEADER = 'concord.consensus.is_leader';
export const METRIC_TLS_CERTIFICATE_NOT_AFTER = 'concord.tls.certificate.not_after';

// Metric attributes (Prometheus labels with dots turned into underscores).
export const ATTR_DIRECTION = 'concord.direction';
export const ATTR_RESULT = 'concord.result';

/** Latency buckets in seconds, from sub-millisecond fsyncs on fast disks to 10 s deadlines. */
export const secondsBuckets: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
