import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Interceptor, InterceptingCall, Metadata } from '@grpc/grpc-js';
import { ATTR_RPC_GRPC_STATUS_CODE, ATTR_RPC_METHOD, ATTR_RPC_SERVICE, ATTR_RPC_SYSTEM, rpcSpanName, RPC_SYSTEM_GRPC, untracedGrpcMethods } from './names';
import { tracer } from './tracing';

/**
 * A grpc-js client interceptor that does explicitly what @opentelemetry/instrumentation-grpc
 * does by patching: a CLIENT span per call, named and attributed the same way, with the W3C
 * trace context injected into the call's metadata. For code the patch cannot reach (bundled
 * clients, test runners with their own module loader): pass it as
 * `{ interceptors: [grpcClientTracing()] }` in the client options. Uses the globally registered
 * tracer provider and propagator; with none registered it costs a no-op span per call.
 */
export function grpcClientTracing(): Interceptor {
  return (options, nextCall) => {
    const path = options.method_definition.path;
    const slash = path.lastIndexOf('/');
    const method = path.slice(slash + 1);
    if (untracedGrpcMethods.includes(method)) return new InterceptingCall(nextCall(options));
    const span = tracer().startSpan(rpcSpanName(path), {
      kind: SpanKind.CLIENT,
      attributes: { [ATTR_RPC_SYSTEM]: RPC_SYSTEM_GRPC, [ATTR_RPC_SERVICE]: path.slice(1, slash), [ATTR_RPC_METHOD]: method },
    });
    const ctx = trace.setSpan(context.active(), span);
    return new InterceptingCall(nextCall(options), {
      start: (metadata: Metadata, listener, next) => {
        propagation.inject(ctx, metadata, { set: (md, key, value) => md.set(key, value) });
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, status.code);
            if (status.code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
            span.end();
            nextStatus(status);
          },
        });
      },
    });
  };
}
