import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

export const testClientService = 'concord-test-client';

/**
 * Tracing in the test process itself, so the test's own client calls are spans of the traces
 * under test: an SDK exporting straight to the test's receiver over OTLP/gRPC (a simple span
 * processor: each span leaves as it ends). Clients get their spans and the W3C context in
 * their metadata from the grpcClientTracing interceptor (the gRPC patch cannot reach modules
 * loaded by jest).
 */
export function startTestTracing(endpoint: string): { shutdown(): Promise<void> } {
  const sdk = new NodeSDK({
    serviceName: testClientService,
    autoDetectResources: false,
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    shutdown: async () => {
      await sdk.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
