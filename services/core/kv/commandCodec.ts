import * as pb from '../../../proto/gen/concord/v1/kv_command';
import { encodeReusing } from '../encodeReusing';
import { bytesReplacer, bytesReviver } from './jsonBytes';
import { Compare, CompareResult, CompareTarget, KvCommand, RequestOp } from './types';

/**
 * How KV commands are written into the log: a `KvCommandEntry` (protobuf), or JSON with bytes
 * as base64, the only format earlier versions read. Both are read; a leader writes protobuf
 * once every other voter has shown it reads it (see AuthorityNode), so a rolling upgrade never
 * hands an old voter an entry it cannot apply.
 */
export type KvLogFormat = 'protobuf' | 'json';

/**
 * Log entry payload of a KV command, with the proposal's trace context at its head when traced
 * (protobuf field 1; JSON's first key). JSON begins with '{', which no protobuf encoding does.
 */
export function encodeCommand(cmd: KvCommand, traceparent = '', format: KvLogFormat = 'protobuf'): Uint8Array {
  if (format === 'json') return new TextEncoder().encode(JSON.stringify(traceparent === '' ? cmd : { traceparent, ...cmd }, bytesReplacer));
  return encodeReusing(pb.KvCommandEntry.encode, { traceparent, command: toEntry(cmd) });
}

/** The format a leader writes: protobuf once every other voter reads it. */
export function kvLogFormatFor(voters: readonly string[], selfId: string, readsProtobuf: ReadonlySet<string>): KvLogFormat {
  return voters.every((id) => id === selfId || readsProtobuf.has(id)) ? 'protobuf' : 'json';
}

const jsonStart = 0x7b; // '{'

export function decodeCommand(data: Uint8Array): KvCommand {
  if (data[0] === jsonStart) return JSON.parse(new TextDecoder().decode(data), bytesReviver) as KvCommand;
  const { command } = pb.KvCommandEntry.decode(data);
  if (command === undefined) throw new Error('log entry holds no KV command');
  return fromEntry(command);
}

/** Length of a W3C traceparent (version 00). */
const traceparentLength = 55;
/** Field 1 (length-delimited) holding exactly a traceparent. */
const tracedPrefix = [(1 << 3) | 2, traceparentLength];
/** Traced JSON entries put it first too. */
const tracedJsonPrefix = new TextEncoder().encode('{"traceparent":"');

/** The traceparent at the head of an entry's payload, if any (without decoding the entry). */
export function traceparentOfEntry(data: Uint8Array): string | undefined {
  const at = startsWith(data, tracedPrefix) ? tracedPrefix.length : startsWith(data, tracedJsonPrefix) ? tracedJsonPrefix.length : -1;
  if (at < 0 || data.length < at + traceparentLength) return undefined;
  return String.fromCharCode(...data.subarray(at, at + traceparentLength));
}

function startsWith(data: Uint8Array, prefix: ArrayLike<number>): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

type EntryCommand = NonNullable<pb.KvCommandEntry['command']>;

function toEntry(cmd: KvCommand): EntryCommand {
  switch (cmd.type) {
    case 'put':
      return { $case: 'put', value: { key: cmd.key, value: cmd.value, lease: BigInt(cmd.lease), prevKv: cmd.prevKv } };
    case 'delete':
      return { $case: 'delete', value: { key: cmd.key, rangeEnd: cmd.rangeEnd, prevKv: cmd.prevKv } };
    case 'txn':
      return { $case: 'txn', value: { compare: cmd.compare.map(toCompare), success: cmd.success.map(toRequestOp), failure: cmd.failure.map(toRequestOp) } };
    case 'compact':
      return { $case: 'compact', value: { revision: BigInt(cmd.revision) } };
    case 'lease-grant':
      return { $case: 'leaseGrant', value: { id: BigInt(cmd.id), ttlMs: BigInt(cmd.ttlMs) } };
    case 'lease-revoke':
      return { $case: 'leaseRevoke', value: { id: BigInt(cmd.id) } };
    case 'lease-expire':
      return { $case: 'leaseExpire', value: { id: BigInt(cmd.id), grantToken: BigInt(cmd.grantToken) } };
    case 'counter-add':
      return {
        $case: 'counterAdd',
        value: { key: cmd.key, delta: BigInt(cmd.delta), floor: optionalBig(cmd.floor), ceiling: optionalBig(cmd.ceiling) },
      };
  }
}

function fromEntry(c: EntryCommand): KvCommand {
  switch (c.$case) {
    case 'put':
      return { type: 'put', key: c.value.key, value: c.value.value, lease: Number(c.value.lease), prevKv: c.value.prevKv };
    case 'delete':
      return { type: 'delete', key: c.value.key, rangeEnd: c.value.rangeEnd, prevKv: c.value.prevKv };
    case 'txn':
      return { type: 'txn', compare: c.value.compare.map(fromCompare), success: c.value.success.map(fromRequestOp), failure: c.value.failure.map(fromRequestOp) };
    case 'compact':
      return { type: 'compact', revision: Number(c.value.revision) };
    case 'leaseGrant':
      return { type: 'lease-grant', id: Number(c.value.id), ttlMs: Number(c.value.ttlMs) };
    case 'leaseRevoke':
      return { type: 'lease-revoke', id: Number(c.value.id) };
    case 'leaseExpire':
      return { type: 'lease-expire', id: Number(c.value.id), grantToken: Number(c.value.grantToken) };
    case 'counterAdd':
      return {
        type: 'counter-add', key: c.value.key, delta: Number(c.value.delta),
        ...(c.value.floor === undefined ? {} : { floor: Number(c.value.floor) }),
        ...(c.value.ceiling === undefined ? {} : { ceiling: Number(c.value.ceiling) }),
      };
  }
}

const optionalBig = (n: number | undefined): bigint | undefined => (n === undefined ? undefined : BigInt(n));

function toCompare(c: Compare): pb.KvCompareCommand {
  return { key: c.key, target: c.target, result: c.result, number: optionalBig(c.number), value: c.value };
}

function fromCompare(c: pb.KvCompareCommand): Compare {
  return {
    key: c.key, target: c.target as CompareTarget, result: c.result as CompareResult,
    ...(c.number === undefined ? {} : { number: Number(c.number) }),
    ...(c.value === undefined ? {} : { value: c.value }),
  };
}

function toRequestOp(op: RequestOp): pb.KvRequestOpCommand {
  switch (op.type) {
    case 'range': {
      const q = op.query;
      return { op: { $case: 'range', value: { key: q.key, rangeEnd: q.rangeEnd, limit: BigInt(q.limit), revision: BigInt(q.revision), keysOnly: q.keysOnly, countOnly: q.countOnly } } };
    }
    case 'put':
      return { op: { $case: 'put', value: { key: op.key, value: op.value, lease: BigInt(op.lease), prevKv: op.prevKv } } };
    case 'delete':
      return { op: { $case: 'delete', value: { key: op.key, rangeEnd: op.rangeEnd, prevKv: op.prevKv } } };
  }
}

function fromRequestOp(op: pb.KvRequestOpCommand): RequestOp {
  const o = op.op;
  if (o === undefined) throw new Error('transaction operation holds nothing');
  switch (o.$case) {
    case 'range': {
      const q = o.value;
      return { type: 'range', query: { key: q.key, rangeEnd: q.rangeEnd, limit: Number(q.limit), revision: Number(q.revision), keysOnly: q.keysOnly, countOnly: q.countOnly } };
    }
    case 'put':
      return { type: 'put', key: o.value.key, value: o.value.value, lease: Number(o.value.lease), prevKv: o.value.prevKv };
    case 'delete':
      return { type: 'delete', key: o.value.key, rangeEnd: o.value.rangeEnd, prevKv: o.value.prevKv };
  }
}
