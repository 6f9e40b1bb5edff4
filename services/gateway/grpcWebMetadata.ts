import { Metadata, type StatusObject } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { encodeGrpcMessage } from './grpcWebFraming';
import { phoneHeader, targetNodeHeader, traceIdHeader } from './gatewayHeaders';

// Translation between HTTP/1.1 headers (browser side) and gRPC metadata (node side). Only
// application metadata crosses: transport headers (HTTP/1 and HTTP/2 specific, browser noise,
// the gateway's own routing headers) would confuse grpc-js or leak browser details to nodes.

const notMetadata = new Set([
  'host', 'connection', 'keep-alive', 'content-length', 'content-type', 'transfer-encoding', 'te', 'upgrade',
  'accept', 'accept-encoding', 'accept-language', 'user-agent', 'origin', 'referer', 'cookie', 'dnt',
  'pragma', 'cache-control', 'priority', 'x-grpc-web', 'x-user-agent', 'grpc-timeout', 'grpc-encoding',
  'grpc-accept-encoding', phoneHeader, targetNodeHeader,
]);

/** Request headers -> metadata for the node (`-bin` values are base64 in HTTP, bytes in gRPC). */
export function metadataFromHeaders(headers: IncomingHttpHeaders): Metadata {
  const md = new Metadata();
  for (const [key, raw] of Object.entries(headers)) {
    // concord-* metadata is what nodes tell each other (a forwarded call's user and forwarder):
    // never a browser's to set.
    if (raw === undefined || notMetadata.has(key) || key.startsWith('sec-') || key.startsWith(':') || key.startsWith('concord-')) continue;
    // Node joins repeated headers with ", "; only binary values can be split safely (base64
    // has no commas), a text value may contain commas of its own.
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      if (key.endsWith('-bin')) value.split(',').forEach((part) => md.add(key, Buffer.from(part.trim(), 'base64')));
      else md.add(key, value);
    }
  }
  return md;
}

/** Metadata from the node -> header pairs for the browser (binary values as base64). */
export function headersFromMetadata(md: Metadata | undefined): [string, string][] {
  const out: [string, string][] = [];
  if (md === undefined) return out;
  for (const [key, values] of Object.entries(md.toJSON())) {
    for (const value of values) out.push([key, typeof value === 'string' ? value : Buffer.from(value).toString('base64')]);
  }
  return out;
}

/** The trailer block that ends every gRPC-Web response: status, message, trailing metadata. */
export function statusTrailers(status: Pick<StatusObject, 'code' | 'details' | 'metadata'>): [string, string][] {
  const trailers: [string, string][] = [['grpc-status', String(status.code)]];
  if (status.details !== '') trailers.push(['grpc-message', encodeGrpcMessage(status.details)]);
  return [...trailers, ...headersFromMetadata(status.metadata)];
}

/**
 * A trace id the node reported, from `x-concord-trace-id` or a W3C `traceparent`
 * (00-<32 hex trace id>-<16 hex span id>-<flags>), if it reports one; it wins over the one the
 * gateway started (a node may have started a trace of its own).
 */
export function traceIdOf(...sources: (Metadata | undefined)[]): string | undefined {
  for (const md of sources) {
    const direct = md?.get(traceIdHeader)[0];
    if (typeof direct === 'string' && direct !== '') return direct;
    const parent = md?.get('traceparent')[0];
    const match = typeof parent === 'string' ? traceparentPattern.exec(parent) : null;
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Makes every call traceable from the browser: a W3C traceparent the page sent is kept, else
 * the gateway starts a trace (sampled) and sends its traceparent to the node, whose gRPC
 * instrumentation continues it. Returns the trace id, which the panel links to Jaeger.
 */
export function ensureTraceparent(md: Metadata): string {
  const given = md.get('traceparent')[0];
  const match = typeof given === 'string' ? traceparentPattern.exec(given) : null;
  if (match?.[1] !== undefined && !/^0+$/.test(match[1])) return match[1];
  const traceId = randomBytes(16).toString('hex');
  md.set('traceparent', `00-${traceId}-${randomBytes(8).toString('hex')}-01`);
  return traceId;
}

const timeoutUnitsMs: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` (e.g. "10S", "250m") in milliseconds, or undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value.trim());
  if (match === null) return undefined;
  return Number(match[1]) * (timeoutUnitsMs[match[2] ?? 'S'] ?? 1000);
}
