import { Event_EventType, type Event, type KeyValue, type RangeResponse, type ResponseHeader, type ResponseOp } from '../../proto/gen/concord/v1/kv';
import { printable } from './printable';

// How the kv commands show KeyValues. Values are bytes on the wire; the CLI shows them as text
// when they are UTF-8 (the usual case: they were written as text) and as hex otherwise, so a
// binary value never garbles a terminal. Human output follows etcdctl: a key line, then its
// value line; --json gives one object per result with revisions as numbers.

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The value as text, or `undefined` when it is not UTF-8. */
export function valueText(value: Uint8Array): string | undefined {
  try {
    return utf8.decode(value);
  } catch {
    return undefined;
  }
}

/** For human output: the text, or `0x` and the hex of a binary value. */
export function displayValue(value: Uint8Array): string {
  return valueText(value) ?? `0x${Buffer.from(value).toString('hex')}`;
}

export function kvJson(kv: KeyValue, keysOnly = false): Record<string, unknown> {
  const text = valueText(kv.value);
  const value = keysOnly ? {} : text === undefined ? { valueHex: Buffer.from(kv.value).toString('hex') } : { value: text };
  const { createRevision, modRevision, version, lease } = kv;
  return { key: kv.key, ...value, ...(printable({ createRevision, modRevision, version, lease }) as object) };
}

export function kvLines(kvs: readonly KeyValue[], keysOnly = false): string[] {
  return kvs.flatMap((kv) => (keysOnly ? [kv.key] : [kv.key, displayValue(kv.value)]));
}

export function rangeJson(response: RangeResponse, keysOnly = false): Record<string, unknown> {
  return {
    revision: printable(response.header?.revision ?? 0n),
    count: printable(response.count),
    more: response.more,
    kvs: response.kvs.map((kv) => kvJson(kv, keysOnly)),
  };
}

/** One transaction result: `{put: {...}}`, `{range: {...}}` or `{deleted: n}`. */
export function responseOpJson(op: ResponseOp): Record<string, unknown> {
  const r = op.response;
  if (r === undefined) return {};
  if (r.$case === 'responseRange') return { range: rangeJson(r.value) };
  if (r.$case === 'responsePut') return { put: { revision: printable(r.value.header?.revision ?? 0n) } };
  return { deleted: printable(r.value.deleted) };
}

export function responseOpLines(op: ResponseOp): string[] {
  const r = op.response;
  if (r === undefined) return [];
  if (r.$case === 'responseRange') return kvLines(r.value.kvs);
  if (r.$case === 'responsePut') return ['OK'];
  return [`deleted ${r.value.deleted}`];
}

export function eventTypeName(event: Event): string {
  return event.type === Event_EventType.DELETE ? 'DELETE' : 'PUT';
}

/** One line per event: revision, type, key, and the value of a put. */
export function eventLine(revision: bigint, event: Event): string {
  const kv = event.kv;
  const value = event.type === Event_EventType.PUT && kv !== undefined ? `  ${displayValue(kv.value)}` : '';
  return `${revision}  ${eventTypeName(event)}  ${kv?.key ?? ''}${value}`;
}

export function eventJson(revision: bigint, event: Event): Record<string, unknown> {
  const kv = event.kv === undefined ? {} : kvJson(event.kv, event.type === Event_EventType.DELETE);
  return { revision: printable(revision), type: eventTypeName(event), ...kv, ...(event.prevKv ? { prevKv: kvJson(event.prevKv) } : {}) };
}

/** Where and when a write or read was served, for --json. */
export function headerJson(header: ResponseHeader | undefined): Record<string, unknown> {
  return { revision: printable(header?.revision ?? 0n), nodeId: header?.nodeId ?? '', leaderId: header?.leaderId ?? '', term: printable(header?.term ?? 0n) };
}
