import {
  Attributes,
  context,
  Context,
  isSpanContextValid,
  metrics,
  Meter,
  ROOT_CONTEXT,
  Span,
  SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  Tracer,
} from '@opentelemetry/api';
import { instrumentationScope } from './names';

// Process-wide switches, set once by startTelemetry. Every hot-path helper checks them first, so
// with telemetry off a write costs one boolean test per hook and nothing else (no span objects,
// no context lookups, no timestamps).
let tracingOn = false;
let metricsOn = false;

export function setTelemetryEnabled(flags: { tracing?: boolean; metrics?: boolean }): void {
  if (flags.tracing !== undefined) tracingOn = flags.tracing;
  if (flags.metrics !== undefined) metricsOn = flags.metrics;
}

export function tracingEnabled(): boolean {
  return tracingOn;
}

export function metricsEnabled(): boolean {
  return metricsOn;
}

export function tracer(): Tracer {
  return trace.getTracer(instrumentationScope);
}

/** The meter for Concord's instruments; call after startTelemetry (the API has no proxy meter). */
export function meter(): Meter {
  return metrics.getMeter(instrumentationScope);
}

/** The active span's context when it is being recorded (sampled), else undefined. */
export function activeSampledSpanContext(ctx: Context = context.active()): SpanContext | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && isSpanContextValid(sc) && (sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? sc : undefined;
}

/** W3C `traceparent` of a span context: version 00, trace id, span id, flags. */
export function toTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a W3C `traceparent` carried in-band (a peer batch, a log entry); undefined if malformed. */
export function fromTraceparent(value: string): SpanContext | undefined {
  const m = traceparentPattern.exec(value);
  if (m === null) return undefined;
  const sc: SpanContext = { traceId: m[1] as string, spanId: m[2] as string, traceFlags: parseInt(m[3] as string, 16), isRemote: true };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** A context whose parent is the remote span named by `traceparent`. */
export function contextFromTraceparent(value: string): Context | undefined {
  const sc = fromTraceparent(value);
  return sc === undefined ? undefined : trace.setSpanContext(ROOT_CONTEXT, sc);
}

export function endWithError(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/**
 * Runs `fn` inside a new child span of the active context (or of `parent`), ending it when the
 * promise settles. With tracing off, or when the parent is not sampled, it only runs `fn`.
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span | undefined) => Promise<T>,
  opts: { kind?: SpanKind; parent?: Context } = {},
): Promise<T> {
  if (!tracingOn) return fn(undefined);
  const parent = opts.parent ?? context.active();
  if (activeSampledSpanContext(parent) === undefined) return fn(undefined);
  const span = tracer().startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), () => fn(span));
    span.end();
    return result;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
}
