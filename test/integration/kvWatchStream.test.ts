// WatchStream on three real voters: many watches over one stream, as etcd's Watch carries them.
// A create is answered `created` (with the id the node picked when asked to) before its events,
// each answer names its watch, a cancel stops one watch and leaves the others, a bad create is
// refused alone (the stream goes on), a compacted start is said, the client ending its side ends
// the stream, and a node cut off from the majority ends the whole stream with UNAVAILABLE.
import { ClientDuplexStream, status } from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import { KvWatchRequest, KvWatchStreamRequest, KvWatchStreamResponse } from '../../proto/gen/concord/v1/kv';
import { KvStubs, kvStubs, text } from './kvStubs';
import { eventually } from './nodeStubs';
import { startTestCluster, TestCluster } from './startTestCluster';

/** Three voters for the tests around it (started before them, stopped after), with KV stubs on each. */
function kvCluster(extraArgs: string[] = []): { tc: TestCluster; kv: KvStubs[] } {
  const c = {} as { tc: TestCluster; kv: KvStubs[] };
  beforeAll(async () => {
    c.tc = await startTestCluster(3, extraArgs); // whole: one leader agreed on by every node
    c.kv = c.tc.cluster.nodes.map((n) => kvStubs(n.address));
  }, 60_000);
  afterAll(async () => {
    c.kv?.forEach((k) => k.close());
    await c.tc?.stop();
  });
  return c;
}

const main = kvCluster();

interface Opened {
  readonly stream: ClientDuplexStream<KvWatchStreamRequest, KvWatchStreamResponse>;
  readonly answers: KvWatchStreamResponse[];
  readonly ended: Promise<{ code: number; details?: string }>;
  create(watch: Partial<KvWatchRequest>, watchId?: bigint): void;
  cancel(watchId: bigint): void;
  /** `watch id: key,key` per answer with events, in arrival order. */
  events(): string[];
}

function open(k: KvStubs): Opened {
  const stream = k.client.watchStream();
  const answers: KvWatchStreamResponse[] = [];
  stream.on('data', (r: KvWatchStreamResponse) => answers.push(r));
  const ended = new Promise<{ code: number; details?: string }>((resolve) => {
    stream.on('error', (e: { code: number; details?: string }) => resolve(e));
    stream.on('status', (s: { code: number; details?: string }) => resolve(s));
  });
  return {
    stream,
    answers,
    ended,
    create: (watch, watchId = 0n) => stream.write({ request: { $case: 'create', value: { watch: KvWatchRequest.fromPartial(watch), watchId } } }),
    cancel: (watchId) => stream.write({ request: { $case: 'cancel', value: { watchId } } }),
    events: () => answers.filter((a) => a.events.length > 0).map((a) => `${a.watchId}: ${a.events.map((e) => e.kv?.key).join(',')}`),
  };
}

const until = (what: string, check: () => boolean): Promise<number> => eventually(what, async () => check(), 10_000);

test('many watches on one stream: each created before its events, every answer naming its watch', async () => {
  const w = open(main.kv[1]!);
  try {
    w.create({ key: 'ws/b' }, 2n);
    w.create({ key: 'ws/a/', rangeEnd: 'ws/a0' }); // the node picks: 1
    w.create({ key: 'ws/c', rangeEnd: '\u0000' }); // the node picks: 3 (2 is the client's)
    await until('three created', () => w.answers.filter((a) => a.created).length === 3);
    expect(w.answers.map((a) => [a.watchId, a.created, a.canceled])).toEqual([[2n, true, false], [1n, true, false], [3n, true, false]]);
    const a1 = await main.kv[0]!.put('ws/a/1', 'x');
    const b = await main.kv[2]!.put('ws/b', 'y');
    const txn = await main.kv[0]!.txn({
      compare: [],
      success: ['ws/c/x', 'ws/a/2', 'ws/b2'].map((key) => ({ request: { $case: 'requestPut' as const, value: { key, value: new Uint8Array([1]), lease: 0n, prevKv: false } } })),
      failure: [],
    });
    // One transaction, one revision: each watch gets its own events of it, at that revision.
    await until('the events', () => w.events().length === 4);
    const keysOf = (id: bigint): (string | undefined)[] => w.answers.filter((a) => a.watchId === id).flatMap((a) => a.events.map((e) => e.kv?.key));
    expect([keysOf(1n), keysOf(2n), keysOf(3n)]).toEqual([['ws/a/1', 'ws/a/2'], ['ws/b'], ['ws/c/x']]);
    // Each answer carries its revision: the transaction's two watches answer at its one revision.
    const rev = (id: bigint, key: string): bigint | undefined => w.answers.find((a) => a.watchId === id && a.events.some((e) => e.kv?.key === key))?.header?.revision;
    expect([rev(1n, 'ws/a/1'), rev(2n, 'ws/b'), rev(3n, 'ws/c/x'), rev(1n, 'ws/a/2')]).toEqual([a1.header?.revision, b.header?.revision, txn.header?.revision, txn.header?.revision]);

    // A cancel ends that watch only, and is answered.
    w.cancel(1n);
    await until('cancel answered', () => w.answers.some((a) => a.watchId === 1n && a.canceled));
    await main.kv[0]!.put('ws/a/3', 'x');
    await main.kv[0]!.put('ws/b', 'z');
    await until('the put after the cancel', () => w.events().length === 5);
    expect(w.events()[4]).toBe('2: ws/b');
    expect(w.events().some((e) => e.includes('ws/a/3'))).toBe(false);
    w.cancel(99n);
    await until('unknown cancel answered', () => w.answers.some((a) => a.watchId === 99n && a.canceled));
    expect(w.answers.find((a) => a.watchId === 99n)?.cancelReason).toMatch(/no such watch/);

    // The client ends its side: the stream ends, OK.
    w.stream.end();
    expect((await w.ended).code).toBe(status.OK);
  } finally {
    w.stream.cancel();
  }
});

test('replays from a start revision with previous values, and says when the start was compacted', async () => {
  const first = await main.kv[0]!.put('wr/k', 'v1');
  const w = open(main.kv[2]!);
  try {
    const second = await main.kv[0]!.put('wr/k', 'v2');
    w.create({ key: 'wr/k', startRevision: first.header!.revision, prevKv: true }, 3n);
    await until('both revisions replayed', () => w.events().length === 2);
    // Created first, then the replayed revisions, each at its own revision.
    expect(w.answers.map((x) => [x.watchId, x.created, x.header?.revision])).toEqual([
      [3n, true, expect.any(BigInt)], [3n, false, first.header?.revision], [3n, false, second.header?.revision],
    ]);
    const [a, b] = w.answers.filter((x) => x.events.length > 0);
    expect([text(a?.events[0]?.kv?.value), text(b?.events[0]?.kv?.value), text(b?.events[0]?.prevKv?.value)]).toEqual(['v1', 'v2', 'v1']);

    const last = await main.kv[0]!.put('wr/k', 'v3');
    await new Promise((resolve, reject) => main.kv[0]!.client.compact({ revision: last.header!.revision }, (err) => (err ? reject(err) : resolve(undefined))));
    await eventually('compacted on n3', async () => {
      w.create({ key: 'wr/k', startRevision: 1n });
      await new Promise((r) => setTimeout(r, 100));
      return w.answers.some((x) => x.compactRevision > 0n);
    });
    const compacted = w.answers.find((x) => x.compactRevision > 0n)!;
    expect(compacted.canceled).toBe(true);
    expect(compacted.compactRevision).toBeGreaterThanOrEqual(last.header!.revision);
    expect(compacted.cancelReason).toMatch(/compacted/);
    // Created first, then ended: the client learns its id either way.
    expect(w.answers.findIndex((x) => x.watchId === compacted.watchId && x.created)).toBeLessThan(w.answers.indexOf(compacted));
  } finally {
    w.stream.cancel();
  }
});

test('a bad create is refused alone and the stream goes on; a request with neither create nor cancel ends it', async () => {
  const w = open(main.kv[0]!);
  try {
    w.create({ key: 'wb/ok' }, 5n);
    w.create({ key: 'wb/again' }, 5n); // the id is in use
    w.create({ key: 'wb/neg' }, -1n);
    w.create({ key: '' }); // no key
    w.create({ key: 'wb/rev', startRevision: -2n });
    await until('five answers', () => w.answers.length === 5);
    expect(w.answers.map((a) => [a.watchId, a.created, a.canceled])).toEqual([[5n, true, false], [5n, false, true], [-1n, false, true], [1n, false, true], [2n, false, true]]);
    expect(w.answers.slice(1).map((a) => a.cancelReason)).toEqual([
      expect.stringMatching(/already open/),
      expect.stringMatching(/must not be negative/),
      expect.stringMatching(/key/),
      expect.stringMatching(/start_revision/),
    ]);
    await main.kv[0]!.put('wb/ok', 'still served');
    await until('the good watch still serves', () => w.events().length === 1);
    w.stream.write({ request: undefined });
    expect((await w.ended).code).toBe(status.INVALID_ARGUMENT);
  } finally {
    w.stream.cancel();
  }
});

test('a node cut off from the majority ends the whole stream with UNAVAILABLE', async () => {
  const ids = main.tc.cluster.nodes.map((n) => n.id);
  const w = open(main.kv[0]!);
  w.create({ key: 'wq/a' });
  w.create({ key: 'wq/', rangeEnd: 'wq0' });
  await until('both created', () => w.answers.filter((a) => a.created).length === 2);
  await Promise.all(main.tc.stubs.map((s, i) => s.setLinkFaults((i === 0 ? ids.slice(1) : [ids[0]!]).map((peerId) => ({ peerId, cut: true, delayMs: 0 })), true)));
  try {
    const ended = await w.ended;
    expect(ended.code).toBe(status.UNAVAILABLE);
  } finally {
    w.stream.cancel();
    await Promise.all(main.tc.stubs.map((s) => s.setLinkFaults([], true)));
  }
  await eventually('n1 serves again', async () => (await main.kv[0]!.put('wq/back', 'ok')).header !== undefined, 15_000);
}, 30_000);

describe('a client that stops reading', () => {
  const slow = kvCluster(['--watch-queue-max', '20']);

  test('has its Watch and its WatchStream ended with RESOURCE_EXHAUSTED, saying where to resume; a burst of requests only waits', async () => {
    // Raw HTTP/2 streams that stop reading (a grpc-js client would go on buffering them itself):
    // the HTTP/2 window fills, then the node's queue.
    const session = http2.connect(`http://${slow.tc.cluster.nodes[1]!.address}`);
    const call = (method: string, messages: Uint8Array[], last: boolean): { trailers: Promise<Record<string, string>>; resume(): void; received(): number } => {
      const stream = session.request({ ':method': 'POST', ':path': `/concord.v1.KvService/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
      const frame = Buffer.concat(messages.map((m) => {
        const f = Buffer.alloc(5 + m.byteLength);
        f.writeUInt32BE(m.byteLength, 1);
        f.set(m, 5);
        return f;
      }));
      // Watch takes one request (the node starts it once the client's side ends); WatchStream goes on.
      if (last) stream.end(frame);
      else stream.write(frame);
      stream.pause();
      // Counts the length-prefixed messages that arrive (once reading resumes).
      let pending = Buffer.alloc(0);
      let received = 0;
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          pending = pending.subarray(5 + pending.readUInt32BE(1));
          received++;
        }
      });
      const trailers = new Promise<Record<string, string>>((resolve) => stream.on('trailers', (t) => resolve(t as Record<string, string>)));
      return { trailers, resume: () => stream.resume(), received: () => received };
    };
    const watch = { key: 'slow/', rangeEnd: 'slow0', startRevision: 0n, prevKv: false };
    const single = call('Watch', [KvWatchRequest.encode(watch).finish()], true);
    const many = call('WatchStream', [KvWatchStreamRequest.encode({ request: { $case: 'create', value: { watch, watchId: 1n } } }).finish()], false);
    // 500 creates at once (refused: a negative id) on a stream that does not read: answers to
    // requests do not end it (the node stops reading requests while too many answers wait), and
    // the rest are answered as the client reads.
    const burst = call('WatchStream', Array.from({ length: 500 }, () => KvWatchStreamRequest.encode({ request: { $case: 'create', value: { watch, watchId: -1n } } }).finish()), false);
    try {
      await new Promise((r) => setTimeout(r, 300));
      // 200 answers of 8 KB: far past a 64 KB window and 20 queued answers.
      const value = 'v'.repeat(8 << 10);
      for (let i = 0; i < 200; i++) await slow.kv[0]!.put(`slow/${i}`, value);
      // Reading again only to reach the trailers the node ended each stream with.
      single.resume();
      many.resume();
      const [a, b] = await Promise.all([single.trailers, many.trailers]);
      expect([a['grpc-status'], b['grpc-status']]).toEqual([String(status.RESOURCE_EXHAUSTED), String(status.RESOURCE_EXHAUSTED)]);
      expect(decodeURIComponent(a['grpc-message'] ?? '')).toMatch(/reads this watch stream too slowly: \d+ answers wait to be sent; watch again from revision \d+/);
      expect(decodeURIComponent(b['grpc-message'] ?? '')).toMatch(/too slowly/);
      // Answers to requests are not held against the client: all 500 come, the stream stays open.
      let burstEnded = false;
      void burst.trailers.then(() => (burstEnded = true));
      burst.resume();
      await until('all 500 refusals', () => burst.received() === 500);
      await new Promise((r) => setTimeout(r, 200));
      expect(burstEnded).toBe(false);
    } finally {
      session.destroy();
    }
    // The node still serves, and a new watch replays every put (a replay is not held against it).
    const first = (await slow.kv[0]!.get('slow/0')).kvs[0]!.modRevision;
    const puts = Number((await slow.kv[0]!.get('slow/', { rangeEnd: 'slow0', countOnly: true })).count);
    const again = open(slow.kv[1]!);
    try {
      again.create({ key: 'slow/', rangeEnd: 'slow0', startRevision: first });
      await until('the replay', () => again.answers.filter((x) => x.events.length > 0).length === puts);
    } finally {
      again.stream.cancel();
    }
  }, 60_000);
});
