import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino from 'pino';
import pinoPretty from 'pino-pretty';
import { tracingEnabled } from './tracing';

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** The component (service.name), e.g. concord-node. */
  readonly service: string;
  /** The node id, when the process is a node. */
  readonly nodeId?: string;
  /** Human-readable lines instead of JSON; default: when stderr is a terminal. */
  readonly pretty?: boolean;
  readonly level?: string;
  /** Where lines go (default: stderr, synchronously). */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * The process logger: one JSON object per line on stderr (stdout is reserved for machine-read
 * lines such as the node's ready line), with `trace_id` and `span_id` of the active span when
 * tracing is on, so a log line leads to its trace in Jaeger. In a terminal it prints
 * human-readable lines instead. Writes are synchronous: lines logged right before an exit are
 * not lost.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  const options: pino.LoggerOptions = {
    level: opts.level ?? process.env.CONCORD_LOG_LEVEL ?? 'info',
    base: { service: opts.service, ...(opts.nodeId === undefined ? {} : { node: opts.nodeId }), pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceIds,
  };
  const destination = pretty
    ? pinoPretty({ destination: opts.destination ?? 2, sync: true, colorize: opts.destination === undefined, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' })
    : (opts.destination ?? pino.destination({ dest: 2, sync: true }));
  return pino(options, destination);
}

/** `trace_id`/`span_id` of the active span (names as in OpenTelemetry's log data model). */
function traceIds(): Record<string, string> {
  if (!tracingEnabled()) return {};
  const sc = trace.getActiveSpan()?.spanContext();
  return sc !== undefined && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
