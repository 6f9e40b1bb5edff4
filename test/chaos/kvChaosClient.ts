// An authoritative-path load for chaos tests, run inside a node's network namespace with
//   node --import tsx test/chaos/kvChaosClient.ts --target <ip:port> --node <id> --client <n>
//        --epoch-ns <process.hrtime.bigint() of the test> [--workers 4] [--seed s] ...
// It talks only to its local node through the generated KvService/DocumentService stubs and
// records every operation with call/return times on the test's monotonic clock (hrtime is
// CLOCK_MONOTONIC, shared by every process on the machine; the test passes its epoch).
//
// Workers (sequential each, `--workers` of them) mix, on a few shared keys:
//   reg/k<i>:     put (unique value), CAS (Txn: compare value, or version 0 for "absent", then
//                 put a unique value), linearizable get, delete
//   wallet/w<i>:  CounterAdd debits (floor 0) and small credits (floor 0), linearizable reads
// One lease worker: grant (records the fencing token), put lease/c<n>-<seq> = t<token> with the
// lease, read it back, keep-alive twice (records the tokens), and again.
//
// Outcomes (see kvChaosHistory.ts): UNAVAILABLE carrying `concord-reachable-voters` (the
// minority fast path, returned before proposing) is a definite failure; every other error after
// the request may have been sent is an unknown outcome. A worker only sends when its channel is
// READY, so calls to a node that is down are not made at all (rather than recorded as unknown).
//
// stdout, one JSON object per line:
//   {"ev":"ready"}                               the local node answers
//   {"ev":"ops","ops":[OpRecord,...]}            batched every 100 ms
//   {"ev":"credited","ok":bool}                  after `credit <amount>`
//   {"ev":"leader","leader":id,"term":n}         after `leader` (this node's view; "" if none)
//   {"ev":"probe","r":outcome,"code"?:n}         after `probe <seq>` (one KV put via this node)
//   {"ev":"docwrite","tag":t,"ok":bool}          after `docwrite <tag>` (a LOCAL document write)
//   {"ev":"docdump","docs":{id:json|null},"error"?:s}   after `docdump`
//   {"ev":"final","ok":bool}                     after `final` (linearizable prefix scans)
//   {"ev":"stopped","counts":{...}}              after `stop` (no call in flight any more)
// stdin commands: `credit <amount>`, `go`, `leader`, `probe <seq>`, `docwrite <tag>`, `docdump`,
// `stop`, `final`. Every recorded op is flushed before the answer to a command.
//
// --sabotage phantom: on `final`, first report a put on reg/k0 that was never sent (only to
// prove that the checks fail).
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { createInterface } from 'node:readline';
import { AckLevel, DocumentServiceClient, type Operation as DocOperation } from '../../proto/gen/concord/v1/documents';
import * as pb from '../../proto/gen/concord/v1/kv';
import { callUnary } from '../../services/node/callUnary';
import { makePrng } from '../sim/prng';
import { prefixes, type OpBody, type OpRecord, type Outcome } from './kvChaosHistory';

interface Args {
  target: string;
  node: string;
  client: number;
  epochNs: bigint;
  workers: number;
  seed: number;
  keys: number;
  wallets: number;
  deadlineMs: number;
  leaseTtlMs: number;
  sabotage: string;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback?: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : fallback;
    if (v === undefined) throw new Error(`--${name} is required`);
    return v;
  };
  return {
    target: get('target'),
    node: get('node'),
    client: Number(get('client')),
    epochNs: BigInt(get('epoch-ns')),
    workers: Number(get('workers', '4')),
    seed: Number(get('seed', '1')),
    keys: Number(get('keys', '6')),
    wallets: Number(get('wallets', '3')),
    deadlineMs: Number(get('deadline-ms', '2000')),
    leaseTtlMs: Number(get('lease-ttl-ms', '2000')),
    sabotage: get('sabotage', ''),
  };
}

const args = parseArgs(process.argv.slice(2));
const now = (): number => Number(process.hrtime.bigint() - args.epochNs) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
const print = (obj: unknown): void => void process.stdout.write(`${JSON.stringify(obj)}\n`);

const channelOptions = {
  // Reconnect quickly after the node restarts (the default backoff grows to minutes).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 500,
  'grpc.max_receive_message_length': 64 << 20,
};
const kv = new pb.KvServiceClient(args.target, credentials.createInsecure(), channelOptions);
const docs = new DocumentServiceClient(args.target, credentials.createInsecure(), channelOptions);

// ---------------------------------------------------------------------------------------------
// Recording.

let pending: OpRecord[] = [];
const counts: Record<string, number> = {};
const flush = (): void => {
  if (pending.length === 0) return;
  print({ ev: 'ops', ops: pending });
  pending = [];
};
const flushTimer = setInterval(flush, 100);

function record(c: number, call: number, r: Outcome, op: OpBody, code?: number): void {
  pending.push({ c, n: args.node, call, ret: now(), r, op, ...(code === undefined ? {} : { code }) });
  const k = `${op.k}:${r}`;
  counts[k] = (counts[k] ?? 0) + 1;
}

/** Definite failure only for the minority fast path (and errors that say nothing was applied). */
function classify(err: unknown, definite: readonly number[] = []): { r: Outcome; code: number } {
  const e = err as Partial<ServiceError>;
  const code = typeof e.code === 'number' ? e.code : -1;
  if (code === status.UNAVAILABLE && (e.metadata?.get('concord-reachable-voters').length ?? 0) > 0) return { r: 'fail', code };
  if (definite.includes(code)) return { r: 'fail', code };
  if (code === status.INVALID_ARGUMENT || code === status.INTERNAL) process.stderr.write(`kvChaosClient ${args.client}: ${e.code} ${e.details}\n`);
  return { r: 'unknown', code };
}

/** Resolves true once the channel to the local node is READY (false after `ms`). */
function channelReady(ms: number): Promise<boolean> {
  return new Promise((resolve) => kv.waitForReady(new Date(Date.now() + ms), (err) => resolve(err === undefined || err === null)));
}

const rangeReq = (key: string, rangeEnd = '', serializable = false): pb.RangeRequest =>
  ({ key, rangeEnd, limit: 0n, revision: 0n, serializable, keysOnly: false, countOnly: false });
const putOp = (key: string, value: string): pb.RequestOp =>
  ({ request: { $case: 'requestPut', value: { key, value: enc(value), lease: 0n, prevKv: false } } });

/** Runs one recorded operation; returns its outcome. `answer` turns the response into the op's output. */
async function op<Res>(c: number, body: OpBody, send: () => Promise<Res>, answer: (res: Res) => OpBody, definite: readonly number[] = []): Promise<{ r: Outcome; body: OpBody }> {
  const t = now();
  try {
    const res = await send();
    const out = answer(res);
    record(c, t, 'ok', out);
    return { r: 'ok', body: out };
  } catch (err) {
    // A bounded counter refuses with FAILED_PRECONDITION: a definite answer, not a failure.
    if (body.k === 'add' && (err as ServiceError).code === status.FAILED_PRECONDITION && /floor|ceiling/.test((err as ServiceError).details ?? '')) {
      const out: OpBody = { ...body, applied: false };
      record(c, t, 'ok', out);
      return { r: 'ok', body: out };
    }
    const { r, code } = classify(err, definite);
    record(c, t, r, body, code);
    return { r, body };
  }
}

// ---------------------------------------------------------------------------------------------
// The operations.

const regKey = (i: number): string => `${prefixes.reg}k${i}`;
const walletKey = (i: number): string => `${prefixes.wallet}w${i}`;

function kvGet(c: number, key: string): Promise<{ r: Outcome; body: OpBody }> {
  return op(c, { k: 'get', key }, () => callUnary(kv.range.bind(kv), rangeReq(key), args.deadlineMs),
    (res) => ({ k: 'get', key, value: res.kvs[0] === undefined ? null : dec(res.kvs[0].value) }));
}

function kvPut(c: number, key: string, value: string, lease = 0, ms = args.deadlineMs): Promise<{ r: Outcome; body: OpBody }> {
  const body: OpBody = lease === 0 ? { k: 'put', key, value } : { k: 'put', key, value, lease };
  // A put on an unknown (expired) lease is refused by the state machine: NOT_FOUND, nothing changed.
  return op(c, body, () => callUnary(kv.put.bind(kv), { key, value: enc(value), lease: BigInt(lease), prevKv: false }, ms),
    () => body, lease === 0 ? [] : [status.NOT_FOUND]);
}

function kvCas(c: number, key: string, expect: string | null, value: string): Promise<{ r: Outcome; body: OpBody }> {
  const compare: pb.Compare = expect === null
    ? { key, target: pb.Compare_CompareTarget.VERSION, result: pb.Compare_CompareResult.EQUAL, targetUnion: { $case: 'version', value: 0n } }
    : { key, target: pb.Compare_CompareTarget.VALUE, result: pb.Compare_CompareResult.EQUAL, targetUnion: { $case: 'value', value: enc(expect) } };
  return op(c, { k: 'cas', key, expect, value },
    () => callUnary(kv.txn.bind(kv), { compare: [compare], success: [putOp(key, value)], failure: [] }, args.deadlineMs),
    (res) => ({ k: 'cas', key, expect, value, succeeded: res.succeeded }));
}

function kvDelete(c: number, key: string): Promise<{ r: Outcome; body: OpBody }> {
  return op(c, { k: 'del', key }, () => callUnary(kv.deleteRange.bind(kv), { key, rangeEnd: '', prevKv: false }, args.deadlineMs),
    (res) => ({ k: 'del', key, deleted: res.deleted > 0n }));
}

function counterAdd(c: number, key: string, delta: number, floor: number | null): Promise<{ r: Outcome; body: OpBody }> {
  const body: OpBody = { k: 'add', key, delta, floor };
  return op(c, body, () => callUnary(kv.counterAdd.bind(kv), {
    key, delta: BigInt(delta), floor: BigInt(floor ?? 0), ceiling: 0n, hasFloor: floor !== null, hasCeiling: false,
  }, args.deadlineMs), (res) => ({ ...body, applied: true, value: Number(res.value) }));
}

function counterRead(c: number, key: string): Promise<{ r: Outcome; body: OpBody }> {
  return op(c, { k: 'read', key }, () => callUnary(kv.range.bind(kv), rangeReq(key), args.deadlineMs),
    (res) => ({ k: 'read', key, value: res.kvs[0] === undefined ? 0 : Number(dec(res.kvs[0].value)) }));
}

function scan(c: number, prefix: string, ms: number): Promise<{ r: Outcome; body: OpBody }> {
  // [prefix, prefix with its last byte + 1): every key under the prefix.
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  return op(c, { k: 'scan', prefix }, () => callUnary(kv.range.bind(kv), rangeReq(prefix, end), ms),
    (res) => ({ k: 'scan', prefix, kvs: Object.fromEntries(res.kvs.map((x) => [x.key, dec(x.value)])) }));
}

// ---------------------------------------------------------------------------------------------
// Workers.

let running = false;
let stopping = false;
let seq = 0;
const unique = (w: number): string => `c${args.client}w${w}s${++seq}`;

async function worker(w: number): Promise<void> {
  const rand = makePrng((args.seed ^ (args.client * 7919) ^ (w * 104729)) >>> 0);
  const c = args.client * 100 + w;
  const lastSeen = new Map<string, string | null>();
  while (!stopping) {
    if (!(await channelReady(300))) continue; // the node is down: send nothing
    const x = rand.next();
    const key = regKey(rand.int(args.keys));
    const wallet = walletKey(rand.int(args.wallets));
    let res: { r: Outcome; body: OpBody };
    if (x < 0.28) res = await kvPut(c, key, unique(w));
    else if (x < 0.46) res = await kvCas(c, key, lastSeen.has(key) ? (lastSeen.get(key) as string | null) : null, unique(w));
    else if (x < 0.64) res = await kvGet(c, key);
    else if (x < 0.67) res = await kvDelete(c, key);
    else if (x < 0.83) res = await counterAdd(c, wallet, -(1 + rand.int(8)), 0);
    else if (x < 0.90) res = await counterAdd(c, wallet, 1 + rand.int(6), 0);
    else res = await counterRead(c, wallet);
    const b = res.body;
    if (res.r === 'ok') {
      if (b.k === 'get') lastSeen.set(b.key, b.value ?? null);
      if (b.k === 'put' || (b.k === 'cas' && b.succeeded === true)) lastSeen.set(b.key, b.value);
      if (b.k === 'del') lastSeen.set(b.key, null);
    }
    // Do not spin on a node that refuses at once; leave the CPU to the nodes either way, and
    // keep the history small enough to check in seconds on a fast machine too (<= ~30 ops/s).
    await sleep(res.r === 'ok' ? 15 + rand.int(25) : 100);
  }
}

async function leaseWorker(): Promise<void> {
  const c = args.client * 100 + 50;
  let n = 0;
  while (!stopping) {
    if (!(await channelReady(300))) continue;
    const g = await op(c, { k: 'grant', ttlMs: args.leaseTtlMs },
      () => callUnary(kv.leaseGrant.bind(kv), { ttlMs: BigInt(args.leaseTtlMs), id: 0n }, args.deadlineMs),
      (res) => ({ k: 'grant', ttlMs: args.leaseTtlMs, lease: Number(res.id), token: Number(res.fencingToken) }));
    if (g.r !== 'ok' || g.body.k !== 'grant' || g.body.lease === undefined || g.body.token === undefined) {
      await sleep(150);
      continue;
    }
    const { lease, token } = g.body;
    const key = `${prefixes.lease}c${args.client}-${++n}`;
    await kvPut(c, key, `t${token}`, lease);
    await kvGet(c, key);
    for (let i = 0; i < 2 && !stopping; i++) {
      await sleep(300);
      await op(c, { k: 'keepalive', lease, grantToken: token },
        () => callUnary(kv.leaseKeepAlive.bind(kv), { id: BigInt(lease) }, args.deadlineMs),
        (res) => ({ k: 'keepalive', lease, grantToken: token, token: Number(res.fencingToken) }), [status.NOT_FOUND]);
    }
    await kvGet(c, key);
    await sleep(100);
  }
}

let workers: Promise<void>[] = [];

// ---------------------------------------------------------------------------------------------
// Commands.

const docOp = (tag: string): DocOperation => ({ op: { $case: 'mapSet', value: { path: ['m', tag], valueJson: JSON.stringify(tag) } } });
const docIds = ['kvchaos/d0', 'kvchaos/d1'];

const commands: Record<string, (arg: string) => Promise<void>> = {
  async credit(arg) {
    let ok = true;
    for (let i = 0; i < args.wallets; i++) ok = (await counterAdd(args.client * 100 + 90, walletKey(i), Number(arg), null)).r === 'ok' && ok;
    flush();
    print({ ev: 'credited', ok });
  },
  async go() {
    if (running) return;
    running = true;
    workers = [...Array.from({ length: args.workers }, (_, w) => worker(w)), leaseWorker()];
  },
  async leader() {
    try {
      const res = await callUnary(kv.range.bind(kv), rangeReq(regKey(0), '', true), 1000);
      print({ ev: 'leader', leader: res.header?.leaderId ?? '', term: Number(res.header?.term ?? 0n) });
    } catch (err) {
      print({ ev: 'leader', leader: '', term: 0, error: String((err as Error).message) });
    }
  },
  async probe(arg) {
    const res = await kvPut(args.client * 100 + 60, `${prefixes.probe}${args.node}`, `p${args.client}-${arg}`, 0, 1000);
    flush();
    print({ ev: 'probe', r: res.r });
  },
  async docwrite(tag) {
    try {
      for (const documentId of docIds) {
        await callUnary(docs.apply.bind(docs), { documentId, operations: [docOp(tag)], ack: AckLevel.ACK_LEVEL_LOCAL }, 2000);
      }
      print({ ev: 'docwrite', tag, ok: true });
    } catch (err) {
      print({ ev: 'docwrite', tag, ok: false, error: String((err as Error).message) });
    }
  },
  async docdump() {
    const out: Record<string, string | null> = {};
    try {
      for (const documentId of docIds) {
        try {
          const res = await callUnary(docs.get.bind(docs), { documentId, minVersion: new Uint8Array(), stateVector: new Uint8Array(), includeUpdate: false }, 2000);
          out[documentId] = res.json;
        } catch (err) {
          if ((err as ServiceError).code !== status.NOT_FOUND) throw err;
          out[documentId] = null;
        }
      }
      print({ ev: 'docdump', docs: out });
    } catch (err) {
      print({ ev: 'docdump', docs: {}, error: String((err as Error).message) });
    }
  },
  async stop() {
    stopping = true;
    await Promise.all(workers);
    flush();
    print({ ev: 'stopped', counts });
  },
  async final() {
    if (args.sabotage === 'phantom') {
      // Never sent: an "acknowledged" put that no node ever saw.
      const t = now();
      pending.push({ c: args.client * 100 + 99, n: args.node, call: t, ret: t + 0.5, r: 'ok', op: { k: 'put', key: regKey(0), value: `phantom-c${args.client}` } });
      await sleep(2);
    }
    let ok = true;
    for (const prefix of [prefixes.reg, prefixes.wallet, prefixes.lease, prefixes.probe]) {
      ok = (await scan(args.client * 100 + 70, prefix, 5000)).r === 'ok' && ok;
    }
    flush();
    print({ ev: 'final', ok });
  },
};

async function main(): Promise<void> {
  // Ready once the local node answers a (serializable, local) read.
  for (;;) {
    try {
      await callUnary(kv.range.bind(kv), rangeReq(regKey(0), '', true), 1000);
      break;
    } catch {
      await sleep(200);
    }
  }
  print({ ev: 'ready' });
  // Commands run at once, concurrently (the test has at most one of each kind outstanding).
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd = '', arg = ''] = line.trim().split(/\s+/);
    const run = commands[cmd];
    if (run === undefined) {
      process.stderr.write(`kvChaosClient: unknown command ${JSON.stringify(line)}\n`);
      return;
    }
    run(arg).catch((err: unknown) => void process.stderr.write(`kvChaosClient: ${cmd}: ${String(err)}\n`));
  });
  // The test owns us: when it goes away (stdin closes), so do we.
  process.stdin.on('end', () => {
    clearInterval(flushTimer);
    process.exit(0);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`kvChaosClient: ${String(err)}\n`);
  process.exit(1);
});
