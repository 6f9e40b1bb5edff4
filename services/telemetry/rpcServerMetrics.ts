import { Histogram } from '@opentelemetry/api';
import { ServerInterceptingCall, ServerInterceptor, status } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import {
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_RPC_METHOD,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  METRIC_RPC_SERVER_CALL_DURATION,
  RPC_SYSTEM_GRPC,
  secondsBuckets,
} from './names';
import { meter, metricsEnabled } from './tracing';

/**
 * Server interceptors for a node's gRPC server: with metrics on, one that records every call's
 * duration in `rpc.server.call.duration` (seconds) by service, method and gRPC status code, as
 * OpenTelemetry's RPC conventions name them. With metrics off, none (no per-call cost).
 */
export function rpcServerInterceptors(): ServerInterceptor[] {
  if (!metricsEnabled()) return [];
  const histogram = meter().createHistogram(METRIC_RPC_SERVER_CALL_DURATION, {
    description: 'Duration of gRPC calls served by this node, by method and status',
    unit: 's',
    advice: { explicitBucketBoundaries: [...secondsBuckets] },
  });
  return [durationInterceptor(histogram)];
}

function durationInterceptor(histogram: Histogram): ServerInterceptor {
  return (method, call) => {
    const startedAt = performance.now();
    const slash = method.path.lastIndexOf('/');
    const base = {
      [ATTR_RPC_SYSTEM]: RPC_SYSTEM_GRPC,
      [ATTR_RPC_SERVICE]: method.path.slice(1, slash),
      [ATTR_RPC_METHOD]: method.path.slice(slash + 1),
    };
    let recorded = false;
    const record = (code: number): void => {
      if (recorded) return;
      recorded = true;
      histogram.record((performance.now() - startedAt) / 1000, { ...base, [ATTR_RPC_GRPC_STATUS_CODE]: code });
    };
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => record(status.CANCELLED) }),
      sendStatus: (st, next) => {
        record(st.code);
        next(st);
      },
    });
  };
}
