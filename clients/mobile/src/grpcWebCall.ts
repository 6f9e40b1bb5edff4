import { phoneHeader, servedByHeader, targetNodeHeader, traceIdHeader } from '../../../services/gateway/gatewayHeaders';
import { decodeGrpcMessage, encodeFrame, FrameDecoder, parseTrailers, type Frame } from '../../../services/gateway/grpcWebFraming';
import { GrpcWebError, grpcStatus, statusOfHttp } from './GrpcWebError';

// A small gRPC-Web client over fetch: unary calls and server streams (all gRPC-Web offers),
// binary framing shared with the gateway. Messages are encoded and decoded by the generated
// stubs' codecs (proto/gen), so the browser and the nodes use the same definitions.

export interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}
export interface Decoder<T> {
  decode(input: Uint8Array): T;
}

/** What the cluster panel shows for each operation. */
export interface CallRecord {
  method: string;
  node: string;
  code: number;
  traceId: string;
  ms: number;
}

export interface GrpcWebTransport {
  /** Origin and path prefix of the gateway; '' for the page's own origin. */
  readonly baseUrl: string;
  /** Sent as the stickiness header, so this phone stays on one node. */
  readonly phone?: string;
  readonly onCall?: (record: CallRecord) => void;
}

export interface CallOptions {
  /** Send to this node instead of the balanced choice (the panel's per-node calls). */
  node?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export async function unaryCall<Req, Res>(t: GrpcWebTransport, path: string, enc: Encoder<Req>, req: Req, dec: Decoder<Res>, opts: CallOptions = {}): Promise<Res> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const abort = new AbortController();
  // The client-side bound is a little later than grpc-timeout so the node's own status wins.
  const timer = setTimeout(() => abort.abort(), timeoutMs + 1000);
  opts.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  let node = opts.node ?? '';
  let traceId = '';
  let code: number = grpcStatus.UNKNOWN;
  try {
    const response = await post(t, path, enc.encode(req).finish(), abort.signal, timeoutMs, opts.node);
    node = response.headers.get(servedByHeader) ?? node;
    traceId = response.headers.get(traceIdHeader) ?? '';
    let message: Uint8Array | undefined;
    for await (const frame of framesOf(response, node)) {
      if (!frame.trailer) message = frame.payload;
      else throwIfError(parseTrailers(frame.payload), node);
    }
    if (message === undefined) throw new GrpcWebError(grpcStatus.INTERNAL, 'no response message', new Map(), node);
    code = grpcStatus.OK;
    return dec.decode(message);
  } catch (err) {
    code = err instanceof GrpcWebError ? err.code : grpcStatus.UNKNOWN;
    if (abort.signal.aborted && !(opts.signal?.aborted ?? false)) throw new GrpcWebError(grpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded', new Map(), node);
    throw err;
  } finally {
    clearTimeout(timer);
    t.onCall?.({ method: path.slice(path.lastIndexOf('.') + 1), node, code, traceId, ms: Math.round(performance.now() - started) });
  }
}

export interface ServerStream<Res> {
  readonly servedBy: string;
  readonly messages: AsyncGenerator<Res, void>;
}

/** Opens a server stream; resolves once the gateway answered (so the caller knows the node). */
export async function openStream<Req, Res>(t: GrpcWebTransport, path: string, enc: Encoder<Req>, req: Req, dec: Decoder<Res>, signal: AbortSignal): Promise<ServerStream<Res>> {
  const response = await post(t, path, enc.encode(req).finish(), signal, undefined, undefined);
  const servedBy = response.headers.get(servedByHeader) ?? '';
  t.onCall?.({ method: path.slice(path.lastIndexOf('.') + 1), node: servedBy, code: grpcStatus.OK, traceId: response.headers.get(traceIdHeader) ?? '', ms: 0 });
  async function* messages(): AsyncGenerator<Res, void> {
    for await (const frame of framesOf(response, servedBy)) {
      if (!frame.trailer) yield dec.decode(frame.payload);
      else return throwIfError(parseTrailers(frame.payload), servedBy);
    }
    throw new GrpcWebError(grpcStatus.UNAVAILABLE, 'the stream ended without a status (gateway or node gone)', new Map(), servedBy);
  }
  return { servedBy, messages: messages() };
}

async function post(t: GrpcWebTransport, path: string, message: Uint8Array, signal: AbortSignal, timeoutMs: number | undefined, node: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
  if (t.phone !== undefined) headers[phoneHeader] = t.phone;
  if (node !== undefined) headers[targetNodeHeader] = node;
  if (timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.round(timeoutMs))}m`;
  let response: Response;
  try {
    response = await fetch(`${t.baseUrl}${path}`, { method: 'POST', headers, body: encodeFrame(message), signal, cache: 'no-store' });
  } catch (err) {
    if (signal.aborted) throw new GrpcWebError(grpcStatus.CANCELLED, 'cancelled', new Map(), node ?? '');
    throw new GrpcWebError(grpcStatus.UNAVAILABLE, `gateway unreachable: ${(err as Error).message}`, new Map(), node ?? '');
  }
  const servedBy = response.headers.get(servedByHeader) ?? node ?? '';
  if (response.status !== 200) {
    // The gateway's own refusals (a host it does not answer to, a bad route) say why in plain text.
    const why = /^text\/plain\b/i.test(response.headers.get('content-type') ?? '') ? await firstLine(response) : '';
    if (why === '') void response.body?.cancel().catch(() => undefined);
    if (signal.aborted) throw new GrpcWebError(grpcStatus.CANCELLED, 'cancelled', new Map(), servedBy);
    throw new GrpcWebError(statusOfHttp(response.status), `HTTP ${response.status} from the gateway${why === '' ? '' : `: ${why}`}`, new Map(), servedBy);
  }
  // A trailers-only answer carries the status in the HTTP headers.
  const headerStatus = response.headers.get('grpc-status');
  if (headerStatus !== null) {
    const headerMap = new Map<string, string>();
    response.headers.forEach((value, key) => headerMap.set(key, value));
    throwIfError(headerMap, servedBy);
  }
  return response;
}

async function* framesOf(response: Response, node: string): AsyncGenerator<Frame, void> {
  const reader = response.body?.getReader();
  if (reader === undefined) return;
  const decoder = new FrameDecoder();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw new GrpcWebError(grpcStatus.UNAVAILABLE, `connection lost: ${(err as Error).message}`, new Map(), node);
      }
      if (chunk.done) return;
      yield* decoder.push(chunk.value);
    }
  } finally {
    reader.releaseLock();
  }
}

function throwIfError(trailers: Map<string, string>, node: string): void {
  const code = Number(trailers.get('grpc-status') ?? grpcStatus.UNKNOWN);
  if (code === grpcStatus.OK) return;
  throw new GrpcWebError(code, decodeGrpcMessage(trailers.get('grpc-message') ?? ''), trailers, node);
}

/** Characters of a refusal's body read at most, and how long for: a proxy's endless or huge body must not hold the call. */
const reasonBytesMax = 1024;
const reasonWaitMs = 2000;

/** The first line of a plain-text body (up to `reasonBytesMax`, within `reasonWaitMs`); the rest is dropped. */
async function firstLine(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), reasonWaitMs);
  try {
    while (text.length < reasonBytesMax && !text.includes('\n')) {
      const { done, value } = await reader.read();
      if (done || value === undefined) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // Cancelled by the timer or the caller: what arrived is enough.
  } finally {
    clearTimeout(timer);
    void reader.cancel().catch(() => undefined);
  }
  return (text.slice(0, reasonBytesMax).split(/\r?\n/)[0] ?? '').trim();
}
