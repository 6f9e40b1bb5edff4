// The history that test/chaos/kvChaosClient.ts records (one JSON record per operation) and its
// translation into the linearizability checker's histories (test/sim/checkers): KV registers
// (puts, CAS transactions, deletes, reads, leased keys), bounded counters (wallets) and fencing
// tokens (lease grants). Pure functions: the test and the client share them.
import type { CounterInput, CounterOutput } from '../sim/checkers/counterModel';
import type { FencingInput, FencingOutput } from '../sim/checkers/fencingModel';
import { UNKNOWN, type Operation } from '../sim/checkers/Model';
import type { KvInput, KvOutput } from '../sim/checkers/registerModel';

/**
 * How an operation ended, as the client saw it:
 * - ok: a definite answer (a refused counter add or a failed CAS is a definite answer too);
 * - fail: definitely did not happen (UNAVAILABLE from the minority fast path, which carries
 *   `concord-reachable-voters` and is only returned before proposing; a put on an unknown lease);
 * - unknown: may or may not have happened (deadline, UNAVAILABLE after the request was sent,
 *   a connection that broke with the call in flight, ...).
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

export type OpBody =
  | { k: 'get'; key: string; value?: string | null }
  | { k: 'put'; key: string; value: string; lease?: number }
  | { k: 'del'; key: string; deleted?: boolean }
  | { k: 'cas'; key: string; expect: string | null; value: string; succeeded?: boolean }
  /** Counter add; `floor` null means no floor. `applied` false: refused at the floor. */
  | { k: 'add'; key: string; delta: number; floor: number | null; applied?: boolean; value?: number }
  /** Counter read (a linearizable Range of the counter's key; absent = 0). */
  | { k: 'read'; key: string; value?: number }
  | { k: 'grant'; ttlMs: number; lease?: number; token?: number }
  | { k: 'keepalive'; lease: number; grantToken: number; token?: number }
  /** A linearizable prefix Range: one atomic read of every key under `prefix`. */
  | { k: 'scan'; prefix: string; kvs?: Record<string, string> };

export interface OpRecord {
  /** Checker client id: one per sequential actor (client * 100 + worker). */
  c: number;
  /** The node the client talks to (its local node). */
  n: string;
  /** Milliseconds since the shared epoch, from one monotonic clock (process.hrtime). */
  call: number;
  ret: number;
  r: Outcome;
  /** gRPC status code when the call failed. */
  code?: number;
  op: OpBody;
}

export const prefixes = { reg: 'reg/', wallet: 'wallet/', lease: 'lease/', probe: 'probe/' } as const;

type KvOp = Operation<KvInput, KvOutput>;
type CounterOp = Operation<CounterInput, CounterOutput>;
type FencingOp = Operation<FencingInput, FencingOutput>;

/** Client id of the synthetic "lease expiry" actor: one per leased put. */
const expiryClientBase = 1_000_000;

const outputOrUnknown = <O>(r: OpRecord, out: () => O): { output: O | typeof UNKNOWN; return: number } =>
  r.r === 'unknown' ? { output: UNKNOWN, return: Infinity } : { output: out(), return: r.ret };

/** Every key (under the given prefixes) that some operation touched. */
function keysUnder(records: readonly OpRecord[], prefix: string): string[] {
  const keys = new Set<string>();
  for (const r of records) if ('key' in r.op && r.op.key.startsWith(prefix)) keys.add(r.op.key);
  return [...keys].sort();
}

/**
 * The register history: reg/, lease/ and probe/ keys. A put on a lease may be undone at any later
 * time by the lease's expiry, which nobody records: each leased put therefore gets a companion
 * delete with an unknown outcome called when the put was (it may take effect at any time after,
 * or never). Prefix scans become one get per known key, all in the scan's interval.
 */
export function registerHistory(records: readonly OpRecord[]): KvOp[] {
  const regPrefixes: string[] = [prefixes.reg, prefixes.lease, prefixes.probe];
  const universe = new Map(regPrefixes.map((p) => [p, keysUnder(records, p)]));
  const out: KvOp[] = [];
  let expiries = 0;
  for (const r of records) {
    if (r.r === 'fail') continue;
    const op = r.op;
    const base = { clientId: r.c, call: r.call };
    switch (op.k) {
      case 'get':
        if (r.r === 'ok') out.push({ ...base, input: { kind: 'get', key: op.key }, output: { kind: 'get', value: op.value ?? null }, return: r.ret });
        break;
      case 'put':
        out.push({ ...base, input: { kind: 'put', key: op.key, value: op.value }, ...outputOrUnknown(r, () => ({ kind: 'put' as const })) });
        if (op.lease !== undefined && op.lease !== 0) {
          out.push({ clientId: expiryClientBase + expiries++, call: r.call, input: { kind: 'delete', key: op.key }, output: UNKNOWN, return: Infinity });
        }
        break;
      case 'del':
        out.push({ ...base, input: { kind: 'delete', key: op.key }, ...outputOrUnknown(r, () => ({ kind: 'delete' as const, deleted: op.deleted === true })) });
        break;
      case 'cas':
        out.push({
          ...base,
          input: { kind: 'cas', key: op.key, expected: { value: op.expect }, value: op.value },
          ...outputOrUnknown(r, () => ({ kind: 'cas' as const, succeeded: op.succeeded === true })),
        });
        break;
      case 'scan': {
        const keys = universe.get(op.prefix);
        if (keys === undefined || r.r !== 'ok') break;
        for (const key of keys) out.push({ ...base, input: { kind: 'get', key }, output: { kind: 'get', value: op.kvs?.[key] ?? null }, return: r.ret });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** The bounded-counter history of the wallets (counters start at 0; the initial credit is an add). */
export function counterHistory(records: readonly OpRecord[]): CounterOp[] {
  const wallets = keysUnder(records, prefixes.wallet);
  const out: CounterOp[] = [];
  for (const r of records) {
    if (r.r === 'fail') continue;
    const op = r.op;
    const base = { clientId: r.c, call: r.call };
    if (op.k === 'add') {
      out.push({
        ...base,
        input: { kind: 'add', key: op.key, delta: op.delta, floor: op.floor ?? -Infinity, ceiling: Infinity },
        ...outputOrUnknown(r, (): CounterOutput => (op.applied === true ? { kind: 'add', applied: true, value: op.value ?? NaN } : { kind: 'add', applied: false })),
      });
    } else if (op.k === 'read' && r.r === 'ok') {
      out.push({ ...base, input: { kind: 'read', key: op.key }, output: { kind: 'read', value: op.value ?? NaN }, return: r.ret });
    } else if (op.k === 'scan' && op.prefix === prefixes.wallet && r.r === 'ok') {
      for (const key of wallets) out.push({ ...base, input: { kind: 'read', key }, output: { kind: 'read', value: Number(op.kvs?.[key] ?? '0') }, return: r.ret });
    }
  }
  return out;
}

/** Lease grants: fencing tokens must strictly increase in linearization (so real-time) order. */
export function fencingHistory(records: readonly OpRecord[]): FencingOp[] {
  const out: FencingOp[] = [];
  for (const r of records) {
    if (r.op.k !== 'grant' || r.r === 'fail') continue;
    const token = r.op.token;
    out.push({
      clientId: r.c,
      call: r.call,
      input: { kind: 'grant', resource: 'lease-grants' },
      ...outputOrUnknown(r, () => ({ kind: 'grant' as const, token: token ?? NaN })),
    });
  }
  return out;
}

/** Whether a record's definite answer is a successful write of `value` (or a delete, value null). */
function writeOf(r: OpRecord): { key: string; value: string | null } | undefined {
  const op = r.op;
  if (op.k === 'put') return { key: op.key, value: op.value };
  if (op.k === 'cas' && (r.r === 'unknown' || op.succeeded === true)) return { key: op.key, value: op.value };
  if (op.k === 'del' && (r.r === 'unknown' || op.deleted === true)) return { key: op.key, value: null };
  return undefined;
}

/**
 * A direct, readable check for lost acknowledged writes on reg/ keys (the linearizability check
 * implies it; this one names the write): the final value of a key must come from a write that
 * was acknowledged or has an unknown outcome, and no acknowledged write on that key may have
 * started after that write had returned (it would have to be later, so it would have been lost).
 */
export function lostWrites(records: readonly OpRecord[], finalValues: ReadonlyMap<string, string | null>): string[] {
  const problems: string[] = [];
  const writes = new Map<string, OpRecord[]>();
  for (const r of records) {
    if (r.r === 'fail') continue;
    const w = writeOf(r);
    if (w === undefined || !w.key.startsWith(prefixes.reg)) continue;
    const list = writes.get(w.key) ?? [];
    list.push(r);
    writes.set(w.key, list);
  }
  for (const [key, value] of finalValues) {
    const list = writes.get(key) ?? [];
    const source = list.find((r) => writeOf(r)?.value === value && value !== null);
    if (value !== null && source === undefined) {
      problems.push(`${key}: final value ${JSON.stringify(value)} was never written by an acknowledged or in-doubt write`);
      continue;
    }
    const sourceReturn = source === undefined || source.r === 'unknown' ? -Infinity : source.ret;
    if (value === null) continue; // deletes and never-written keys: left to the checker
    const later = list.filter((r) => r.r === 'ok' && r !== source && r.call > sourceReturn);
    if (later.length > 0) {
      const x = later[later.length - 1] as OpRecord;
      problems.push(`${key}: acknowledged write ${JSON.stringify(writeOf(x)?.value)} (client ${x.c} via ${x.n}, [${x.call.toFixed(1)}, ${x.ret.toFixed(1)}] ms) `
        + `is lost: the final value ${JSON.stringify(value)} was written by an operation that returned at ${sourceReturn.toFixed(1)} ms, before it started`);
    }
  }
  return problems;
}
