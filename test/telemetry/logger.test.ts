// The process logger writes one JSON object per line with the trace and span ids of the active
// span when tracing is on (so a log line leads to its trace), and plain readable lines for a
// terminal.
import { trace } from '@opentelemetry/api';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../services/telemetry/logger';
import { setTelemetryEnabled } from '../../services/telemetry/tracing';
import { OtlpReceiver } from './OtlpReceiver';
import { startTestTracing } from './testTracing';

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { stream, lines: () => text.split('\n').filter((l) => l !== '') };
}

test('JSON lines carry service, node, level, time and the active trace_id/span_id', async () => {
  const receiver = await OtlpReceiver.start();
  const tracing = startTestTracing(receiver.endpoint);
  setTelemetryEnabled({ tracing: true });
  try {
    const out = capture();
    const log = createLogger({ service: 'concord-node', nodeId: 'n7', pretty: false, destination: out.stream });
    log.info('outside any span');
    let ids = { traceId: '', spanId: '' };
    trace.getTracer('test').startActiveSpan('work', (span) => {
      ids = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      log.warn('inside a span');
      span.end();
    });
    const [outside, inside] = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside).toMatchObject({ level: 'info', service: 'concord-node', node: 'n7', msg: 'outside any span' });
    expect(outside).not.toHaveProperty('trace_id');
    expect(typeof outside!.time).toBe('string');
    expect(inside).toMatchObject({ level: 'warn', msg: 'inside a span', trace_id: ids.traceId, span_id: ids.spanId });
  } finally {
    setTelemetryEnabled({ tracing: false });
    await tracing.shutdown();
    await receiver.stop();
  }
});

test('pretty lines for a terminal: readable, not JSON', () => {
  const out = capture();
  const log = createLogger({ service: 'concord-node', nodeId: 'n1', pretty: true, destination: out.stream });
  log.info('node is ready');
  const [line] = out.lines();
  expect(line).toContain('INFO');
  expect(line).toContain('node is ready');
  expect(() => JSON.parse(line!)).toThrow();
});
