import { metrics } from '@opentelemetry/api';
import { sep } from 'node:path';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, untracedGrpcMethods } from './names';
import { tracingDecision, TracingDecision } from './telemetryConfig';
import { setTelemetryEnabled } from './tracing';

// This module must not import @grpc/grpc-js (nor anything that does) at the top: a process
// calls startTelemetry before it loads gRPC so the gRPC instrumentation sees every client and
// server. The SDK packages are imported on demand, only when tracing or metrics are on.

export interface TelemetryOptions {
  /** service.name of this component (serviceNames.*); OTEL_SERVICE_NAME overrides it. */
  readonly serviceName: string;
  /** service.instance.id, e.g. the node id. */
  readonly instanceId?: string;
  /** Serve Prometheus metrics at http://<metricsHost>:<metricsPort>/metrics; 0 or absent = off. */
  readonly metricsPort?: number;
  /** Interface for the metrics endpoint (default: all interfaces). */
  readonly metricsHost?: string;
  /** Where start-up notes go (the process logger). */
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
  /** For tests; the SDK itself reads process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  readonly tracing: TracingDecision;
  /** The port serving /metrics, when metrics are on. */
  readonly metricsPort: number | undefined;
  /**
   * Flushes pending spans and stops exporters; call before the process exits. Resolves within
   * `timeoutMs` (default 2 s) even when the collector is unreachable.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * Sets up tracing (OpenTelemetry Node SDK, configured by the standard OTEL_* variables, on only
 * when configured: see tracingDecision) and Prometheus metrics (on only with a port). Spans go
 * through the SDK's batch span processor (OTEL_BSP_* tune it). The SDK's own OTLP metrics and
 * logs exporters stay off: metrics are served to Prometheus, logs go to stderr.
 */
export async function startTelemetry(opts: TelemetryOptions): Promise<Telemetry> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const decision = tracingDecision(env);
  const stops: (() => Promise<void>)[] = [];
  const baseAttributes = {
    ...(env.OTEL_SERVICE_NAME ? {} : { [ATTR_SERVICE_NAME]: opts.serviceName }),
    ...(opts.instanceId === undefined ? {} : { [ATTR_SERVICE_INSTANCE_ID]: opts.instanceId }),
  };
  let metricsPort: number | undefined;

  if (opts.metricsPort !== undefined && opts.metricsPort > 0) {
    const [{ MeterProvider }, { PrometheusExporter }, { defaultResource, resourceFromAttributes }] = await Promise.all([
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/exporter-prometheus'),
      import('@opentelemetry/resources'),
    ]);
    const exporter = new PrometheusExporter({ port: opts.metricsPort, host: opts.metricsHost, preventServerStart: true });
    await exporter.startServer();
    const resource = defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || opts.serviceName, ...baseAttributes }));
    const provider = new MeterProvider({ resource, readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
    setTelemetryEnabled({ metrics: true });
    metricsPort = opts.metricsPort;
    stops.push(() => provider.shutdown());
    log('info', `metrics: Prometheus endpoint on ${opts.metricsHost ?? '0.0.0.0'}:${opts.metricsPort}/metrics`);
  }

  if (decision.enabled) {
    if (grpcAlreadyLoaded()) log('warn', 'tracing: @grpc/grpc-js was loaded before telemetry started; some RPC spans may be missing');
    const [{ NodeSDK }, { GrpcInstrumentation }, { defaultResource, resourceFromAttributes }] = await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/instrumentation-grpc'),
      import('@opentelemetry/resources'),
    ]);
    const sdk = new NodeSDK({
      resource: defaultResource().merge(resourceFromAttributes(baseAttributes)),
      instrumentations: [new GrpcInstrumentation({ ignoreGrpcMethods: [...untracedGrpcMethods] })],
      // Explicit empty lists: left unset, the SDK would start OTLP metrics and logs exporters too.
      metricReaders: [],
      logRecordProcessors: [],
    });
    sdk.start();
    setTelemetryEnabled({ tracing: true });
    stops.push(() => sdk.shutdown());
    log('info', `tracing: on (${decision.reason}; protocol ${env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf'})`);
  }

  let stopped: Promise<void> | undefined;
  return {
    tracing: decision,
    metricsPort,
    shutdown: (timeoutMs = 2000) => {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        void Promise.allSettled(stops.map((s) => s())).then(() => {
          clearTimeout(timer);
          resolve();
        });
      }).then(() => setTelemetryEnabled({ tracing: false, metrics: false }));
      return stopped;
    },
  };
}

/** True when some module already required gRPC (its instrumentation would then miss clients). */
function grpcAlreadyLoaded(): boolean {
  const marker = `${sep}@grpc${sep}grpc-js${sep}`;
  return typeof require !== 'undefined' && Object.keys(require.cache).some((k) => k.includes(marker));
}
