import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { phoneCookie, phoneHeader, servedByHeader, targetNodeHeader, traceIdHeader } from './gatewayHeaders';
import type { GrpcRoute } from './grpcRoutes';
import { encodeFrame, encodeTrailerFrame, FrameDecoder, FramingError } from './grpcWebFraming';
import { context } from '@opentelemetry/api';
import { contextFromTraceparent, tracingEnabled } from '../telemetry/tracing';
import { ensureTraceparent, headersFromMetadata, metadataFromHeaders, parseGrpcTimeout, statusTrailers, traceIdOf } from './grpcWebMetadata';
import type { BalancedNode, NodeBalancer } from './NodeBalancer';

// One gRPC-Web call: the request's single message goes to a node as raw protobuf bytes over
// grpc-js (identity serializers: no schema here), and the answer comes back as gRPC-Web frames.
// The status always travels in a trailer frame in the body (HTTP 200), which every gRPC-Web
// client reads, so this never needs HTTP trailers (browsers cannot read those).

export interface ProxyContext {
  readonly balancer: NodeBalancer;
  readonly adminToken: string | undefined;
  readonly maxRequestBytes: number;
}

const identity = (b: Buffer): Buffer => b;
/** A unary call without grpc-timeout still ends: nodes answer within their own defaults. */
const unaryDeadlineMaxMs = 60_000;

export async function proxyGrpcWeb(req: IncomingMessage, res: ServerResponse, route: GrpcRoute, ctx: ProxyContext): Promise<void> {
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (contentType !== 'application/grpc-web' && contentType !== 'application/grpc-web+proto') {
    res.writeHead(415, { 'content-type': 'text/plain' }).end('gRPC-Web binary (application/grpc-web+proto) only\n');
    return;
  }
  let message: Buffer;
  try {
    message = await readRequestMessage(req, ctx.maxRequestBytes);
  } catch (err) {
    const code = err instanceof FramingError ? status.INVALID_ARGUMENT : status.RESOURCE_EXHAUSTED;
    return endWithStatus(res, {}, { code, details: (err as Error).message, metadata: new Metadata() });
  }
  const target = single(req.headers[targetNodeHeader]);
  const node = ctx.balancer.pick(phoneOf(req), target);
  if (node === undefined) {
    const details = target === undefined ? 'gateway: no master node configured' : `gateway: no node ${target}`;
    return endWithStatus(res, {}, { code: target === undefined ? status.UNAVAILABLE : status.NOT_FOUND, details, metadata: new Metadata() });
  }
  const md = metadataFromHeaders(req.headers);
  const traceId = ensureTraceparent(md);
  if (route.needsAdminToken && ctx.adminToken !== undefined) md.set('authorization', `Bearer ${ctx.adminToken}`);
  const timeoutMs = parseGrpcTimeout(single(req.headers['grpc-timeout']));
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/grpc-web+proto',
    'cache-control': 'no-store',
    [servedByHeader]: node.id,
    [traceIdHeader]: traceId,
  };
  const onStatus = (st: StatusObject): void => {
    // UNAVAILABLE without concord-* details is the transport (node gone), not a node's answer.
    const fromNode = Object.keys(st.metadata.toJSON()).some((k) => k.startsWith('concord-'));
    if (st.code === status.UNAVAILABLE && !fromNode) ctx.balancer.reportFailure(node.id);
  };
  const call = (): void => {
    if (route.responseStream) streamCall(res, node, route, message, md, timeoutMs, headers, onStatus);
    else unaryCall(res, node, route, message, md, timeoutMs ?? unaryDeadlineMaxMs, headers, onStatus);
  };
  // When the gateway itself is traced, its gRPC instrumentation starts the client span in the
  // active context and injects that span's traceparent: make the call's traceparent the active
  // parent, so the client span (and all below it) stays in the trace id the page is given.
  const parent = tracingEnabled() ? contextFromTraceparent(String(md.get('traceparent')[0] ?? '')) : undefined;
  if (parent === undefined) call();
  else context.with(parent, call);
}

function unaryCall(res: ServerResponse, node: BalancedNode, route: GrpcRoute, message: Buffer, md: Metadata,
  timeoutMs: number, headers: OutgoingHttpHeaders, onStatus: (st: StatusObject) => void): void {
  let response: Buffer | undefined;
  let initial: Metadata | undefined;
  const call = node.client.makeUnaryRequest(route.path, identity, identity, message, md, { deadline: Date.now() + timeoutMs }, (_err, value) => {
    response = value;
  });
  call.on('metadata', (m: Metadata) => (initial = m));
  call.on('status', (st: StatusObject) => {
    onStatus(st);
    const reported = traceIdOf(initial, st.metadata);
    const head: OutgoingHttpHeaders = { ...headers, ...(reported === undefined ? {} : { [traceIdHeader]: reported }) };
    for (const [k, v] of headersFromMetadata(initial)) head[k] = v;
    const body = response === undefined ? [] : [encodeFrame(response)];
    endWithStatus(res, head, st, body);
  });
  res.on('close', () => {
    if (!res.writableFinished) call.cancel();
  });
}

function streamCall(res: ServerResponse, node: BalancedNode, route: GrpcRoute, message: Buffer, md: Metadata,
  timeoutMs: number | undefined, headers: OutgoingHttpHeaders, onStatus: (st: StatusObject) => void): void {
  // Headers go out at once: a watch on a quiet document may send nothing for a long time, and
  // the browser's fetch resolves (and the phone shows "live") only when headers arrive.
  res.writeHead(200, { ...headers, 'x-accel-buffering': 'no' });
  res.flushHeaders();
  const call = node.client.makeServerStreamRequest(route.path, identity, identity, message, md,
    timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs });
  call.on('data', (chunk: Buffer) => {
    if (!res.write(encodeFrame(chunk))) {
      call.pause();
      res.once('drain', () => call.resume());
    }
  });
  call.on('error', () => undefined); // the status that follows carries the same information
  call.on('status', (st: StatusObject) => {
    onStatus(st);
    if (!res.writableEnded && !res.destroyed) res.end(encodeTrailerFrame(statusTrailers(st)));
  });
  res.on('close', () => call.cancel());
}

function endWithStatus(res: ServerResponse, head: OutgoingHttpHeaders, st: Pick<StatusObject, 'code' | 'details' | 'metadata'>, body: Uint8Array[] = []): void {
  if (res.writableEnded || res.destroyed) return;
  const chunks = [...body, encodeTrailerFrame(statusTrailers(st))];
  const length = chunks.reduce((n, c) => n + c.byteLength, 0);
  res.writeHead(200, { 'content-type': 'application/grpc-web+proto', ...head, 'content-length': length });
  res.end(Buffer.concat(chunks));
}

async function readRequestMessage(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const decoder = new FrameDecoder(maxBytes);
  const frames = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes + 5) throw new RangeError(`request over the limit of ${maxBytes} bytes`);
    frames.push(...decoder.push(chunk));
  }
  if (decoder.pendingBytes > 0) throw new FramingError('truncated gRPC-Web frame');
  const data = frames.filter((f) => !f.trailer);
  if (data.length > 1) throw new FramingError('a gRPC-Web request carries one message');
  return Buffer.from(data[0]?.payload ?? new Uint8Array(0));
}

function phoneOf(req: IncomingMessage): string | undefined {
  const header = single(req.headers[phoneHeader]);
  if (header !== undefined && header !== '') return header;
  const cookie = (req.headers.cookie ?? '').split(';').map((c) => c.trim().split('=')).find(([k]) => k === phoneCookie);
  return cookie?.[1] !== undefined && cookie[1] !== '' ? decodeURIComponent(cookie[1]) : undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
