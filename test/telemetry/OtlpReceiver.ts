import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as path from 'node:path';

// A real OTLP/gRPC trace receiver for tests: a grpc-js server implementing
// opentelemetry.proto.collector.trace.v1.TraceService/Export (what Jaeger and the collector
// serve on 4317), decoding requests with the OTLP protos and keeping every span in memory.

export type AttrValue = string | number | boolean | AttrValue[];

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Record<string, AttrValue>;
  readonly events: { name: string; timeMs: number; attributes: Record<string, AttrValue> }[];
  readonly links: { traceId: string; spanId: string }[];
  readonly status: { code: 'UNSET' | 'OK' | 'ERROR'; message: string };
  /** Resource attributes of the process that exported it (service.name, service.instance.id...). */
  readonly resource: Record<string, AttrValue>;
}

interface PbAnyValue {
  value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values: PbAnyValue[] };
  bytesValue?: Buffer;
}
interface PbKeyValue {
  key: string;
  value?: PbAnyValue;
}
interface PbSpan {
  traceId: Buffer;
  spanId: Buffer;
  parentSpanId: Buffer;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: PbKeyValue[];
  events: { timeUnixNano: string; name: string; attributes: PbKeyValue[] }[];
  links: { traceId: Buffer; spanId: Buffer }[];
  status?: { code: string; message: string };
}
interface PbExportRequest {
  resourceSpans: { resource?: { attributes: PbKeyValue[] }; scopeSpans: { spans: PbSpan[] }[] }[];
}

const protoRoot = path.join(__dirname, 'otlp');

function value(v: PbAnyValue | undefined): AttrValue {
  switch (v?.value) {
    case 'stringValue': return v.stringValue ?? '';
    case 'boolValue': return v.boolValue ?? false;
    case 'intValue': return Number(v.intValue);
    case 'doubleValue': return v.doubleValue ?? 0;
    case 'arrayValue': return (v.arrayValue?.values ?? []).map(value);
    case 'bytesValue': return (v.bytesValue ?? Buffer.alloc(0)).toString('hex');
    default: return '';
  }
}

function attrs(kvs: PbKeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = value(kv.value);
  return out;
}

const ms = (nanos: string): number => Number(BigInt(nanos) / 1_000_000n);

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export calls received (each a batch from one process). */
  exports = 0;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  private constructor(private readonly server: grpc.Server, readonly port: number) {}

  /** Starts on `127.0.0.1:<port>` (0 picks a free port). */
  static async start(port = 0): Promise<OtlpReceiver> {
    const def = protoLoader.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', {
      includeDirs: [protoRoot],
      keepCase: false,
      longs: String,
      enums: String,
      bytes: Buffer,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      opentelemetry: { proto: { collector: { trace: { v1: { TraceService: { service: grpc.ServiceDefinition } } } } } };
    };
    const server = new grpc.Server();
    const started: { receiver?: OtlpReceiver } = {};
    server.addService(pkg.opentelemetry.proto.collector.trace.v1.TraceService.service, {
      Export: (call: grpc.ServerUnaryCall<PbExportRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        started.receiver?.accept(call.request);
        callback(null, {});
      },
    });
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    started.receiver = new OtlpReceiver(server, bound);
    return started.receiver;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once `check` holds over the spans received so far (re-checked on every export). */
  waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for spans: ${what} (have ${this.spans.length}: ${[...new Set(this.spans.map((s) => s.name))].join(', ')})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private accept(req: PbExportRequest): void {
    this.exports++;
    for (const rs of req.resourceSpans) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          this.spans.push({
            traceId: s.traceId.toString('hex'),
            spanId: s.spanId.toString('hex'),
            parentSpanId: s.parentSpanId.toString('hex'),
            name: s.name,
            kind: s.kind.replace('SPAN_KIND_', '') as ReceivedSpan['kind'],
            startMs: ms(s.startTimeUnixNano),
            endMs: ms(s.endTimeUnixNano),
            attributes: attrs(s.attributes),
            events: s.events.map((e) => ({ name: e.name, timeMs: ms(e.timeUnixNano), attributes: attrs(e.attributes) })),
            links: s.links.map((l) => ({ traceId: l.traceId.toString('hex'), spanId: l.spanId.toString('hex') })),
            status: { code: (s.status?.code ?? 'STATUS_CODE_UNSET').replace('STATUS_CODE_', '') as ReceivedSpan['status']['code'], message: s.status?.message ?? '' },
            resource,
          });
        }
      }
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}
