/** What the standard OTEL_* variables ask of this process (read once at start). */
export interface TracingDecision {
  readonly enabled: boolean;
  /** Why, in words, for the start-up log line. */
  readonly reason: string;
}

const nonEmpty = (v: string | undefined): boolean => v !== undefined && v.trim() !== '';

/**
 * Tracing is off unless configured: it turns on only when an OTLP endpoint is named
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or a traces exporter is
 * chosen explicitly (OTEL_TRACES_EXPORTER, e.g. `otlp` for the default localhost endpoint or
 * `console`). OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none always win. Protocol,
 * sampler, batch sizes, headers and resource attributes are then read by the SDK itself from the
 * usual variables. Unconfigured, no SDK is loaded, so no exporter exists to connect anywhere.
 */
export function tracingDecision(env: NodeJS.ProcessEnv): TracingDecision {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (exporters.includes('none')) return { enabled: false, reason: 'OTEL_TRACES_EXPORTER=none' };
  if (nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return { enabled: true, reason: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}` };
  if (nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT)) return { enabled: true, reason: `OTEL_EXPORTER_OTLP_ENDPOINT=${env.OTEL_EXPORTER_OTLP_ENDPOINT}` };
  if (exporters.length > 0) return { enabled: true, reason: `OTEL_TRACES_EXPORTER=${exporters.join(',')}` };
  return { enabled: false, reason: 'no OTLP endpoint or traces exporter configured' };
}

/** True unless the variable names `none`: absent means the SDK default. */
export function explicitlyConfigured(value: string | undefined): boolean {
  return nonEmpty(value) && !(value ?? '').split(',').map((s) => s.trim().toLowerCase()).includes('none');
}
