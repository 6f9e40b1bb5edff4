// Proves that a client's KV watches share WatchStream calls (KvWatchMux) against fake voters on
// loopback that stream one shared history: each watch gets its own events and nothing else;
// after the node carrying the stream dies, every watch is created again on another node from
// its own next revision, and a replayed revision is dropped (nothing lost, nothing repeated);
// compaction and refusals end only the watch they concern; a reader that stops cancels its
// watch, the last one ends the stream; a stream takes at most its share of watches.
import { credentials, Metadata, status, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { readTooSlowlyPhrase } from '../../services/rpc/WatchQueue';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { KvWatchMux } from '../../clients/client/KvWatchMux';
import { NodePool } from '../../clients/client/NodePool';
import type { KvWatchRequest, KvWatchResponse, KvWatchStreamRequest, KvWatchStreamResponse } from '../../proto/gen/concord/v1/kv';
import { fastClient, FakeKvNode, header } from './FakeKvNode';
import { waitFor } from './waitFor';

/** Waits for a condition, naming it (its source) if it never holds. */
const until = (condition: () => boolean, timeoutMs = 5000): Promise<void> => waitFor(condition, condition.toString(), timeoutMs);

type Stream = ServerDuplexStream<KvWatchStreamRequest, KvWatchStreamResponse>;

/** One revision history served by every fake node's WatchStream, as voters serve one store. */
class History {
  readonly revisions: { revision: bigint; key: string }[] = [];
  /** Open streams per node, with their watches by id. */
  readonly streams = new Map<FakeKvNode, Map<Stream, Map<bigint, KvWatchRequest>>>();
  readonly requests: { node: string; request: KvWatchStreamRequest }[] = [];
  compactedBelow = 0n;
  /** A node replays from one revision before the start asked for (the client must drop it). */
  replayOneEarly = false;
  refuse: ((req: KvWatchRequest) => string | undefined) | undefined;
  /** Runs after each create is answered (a test's way to end the stream). */
  afterCreate: ((node: FakeKvNode, call: Stream) => void) | undefined;

  serve(node: FakeKvNode): void {
    const streams = new Map<Stream, Map<bigint, KvWatchRequest>>();
    this.streams.set(node, streams);
    node.watchStream = (call) => {
      const watches = new Map<bigint, KvWatchRequest>();
      streams.set(call, watches);
      const gone = (): void => void streams.delete(call);
      call.on('cancelled', gone);
      call.on('end', () => {
        gone();
        call.end();
      });
      call.on('data', (request: KvWatchStreamRequest) => {
        this.requests.push({ node: node.nodeId, request });
        const r = request.request;
        if (r?.$case === 'cancel') {
          watches.delete(r.value.watchId);
          call.write(answer(node, { watchId: r.value.watchId, canceled: true }));
          return;
        }
        if (r?.$case !== 'create') return;
        const { watchId } = r.value;
        const watch = r.value.watch as KvWatchRequest;
        const refusal = this.refuse?.(watch);
        if (refusal !== undefined) return void call.write(answer(node, { watchId, canceled: true, cancelReason: refusal }));
        call.write(answer(node, { watchId, created: true }));
        if (watch.startRevision < this.compactedBelow) return void call.write(answer(node, { watchId, canceled: true, compactRevision: this.compactedBelow }));
        watches.set(watchId, watch);
        const from = this.replayOneEarly ? watch.startRevision - 1n : watch.startRevision;
        for (const { revision, key } of this.revisions) if (revision >= from && holds(watch, key)) call.write(event(node, watchId, revision, key));
        this.afterCreate?.(node, call);
      });
    };
  }

  /** A node of an earlier version: no WatchStream, one Watch call per watch over the same history. */
  serveWatchOnly(node: FakeKvNode): void {
    const streams = new Map<Stream, Map<bigint, KvWatchRequest>>();
    this.streams.set(node, streams);
    node.watch = (call) => {
      const watches = new Map([[1n, call.request]]);
      // Live puts reach it as on a WatchStream; answers are rewritten to Watch's shape.
      const asStream = { write: (m: KvWatchStreamResponse) => call.write({ header: m.header, compactRevision: 0n, events: m.events }) } as unknown as Stream;
      streams.set(asStream, watches);
      call.on('cancelled', () => streams.delete(asStream));
      for (const { revision, key } of this.revisions) if (revision >= call.request.startRevision && holds(call.request, key)) asStream.write(event(node, 1n, revision, key));
    };
  }

  /** A put of `key` at the next revision, streamed by every live node to the watches holding it. */
  put(key: string): bigint {
    const revision = BigInt(this.revisions.length + 1);
    this.revisions.push({ revision, key });
    for (const [node, streams] of this.streams) {
      for (const [call, watches] of streams) for (const [id, w] of watches) if (holds(w, key)) call.write(event(node, id, revision, key));
    }
    return revision;
  }

  /** The node carrying at least one stream. */
  carrier(): FakeKvNode | undefined {
    return [...this.streams].find(([, s]) => s.size > 0)?.[0];
  }

  creates(node?: string): { watchId: bigint; startRevision: bigint; key: string }[] {
    return this.requests
      .filter((r) => node === undefined || r.node === node)
      .flatMap(({ request: { request: r } }) => (r?.$case === 'create' ? [{ watchId: r.value.watchId, startRevision: r.value.watch?.startRevision ?? 0n, key: r.value.watch?.key ?? '' }] : []));
  }
}

const holds = (w: KvWatchRequest, key: string): boolean => (w.rangeEnd === '' ? key === w.key : key >= w.key && key < w.rangeEnd);
const answer = (node: FakeKvNode, res: Partial<KvWatchStreamResponse>): KvWatchStreamResponse => ({
  header: header(node.nodeId),
  watchId: 0n,
  created: false,
  canceled: false,
  cancelReason: '',
  compactRevision: 0n,
  events: [],
  ...res,
});
const event = (node: FakeKvNode, watchId: bigint, revision: bigint, key: string): KvWatchStreamResponse =>
  answer(node, {
    watchId,
    header: header(node.nodeId, revision),
    events: [{ type: 0, kv: { key, value: Buffer.from(`v${revision}`), createRevision: revision, modRevision: revision, version: 1n, lease: 0n }, prevKv: undefined }],
  });

let nodes: FakeKvNode[] = [];
let client: ConcordClient | undefined;
let history: History;

async function cluster(count: number): Promise<ConcordClient> {
  nodes = await Promise.all(Array.from({ length: count }, (_, i) => FakeKvNode.start(`n${i + 1}`)));
  history = new History();
  nodes.forEach((n) => history.serve(n));
  client = fastClient(nodes);
  return client;
}

afterEach(() => {
  client?.close();
  client = undefined;
  for (const node of nodes) node.stop();
  nodes = [];
});

/** Reads a watch in the background: the revisions it delivers, and how it ended. */
function collect(watch: AsyncGenerator<KvWatchResponse, void, undefined>): { revisions: bigint[]; keys: string[]; ended: Promise<unknown> } {
  const revisions: bigint[] = [];
  const keys: string[] = [];
  const ended = (async () => {
    for await (const r of watch) {
      revisions.push(r.header?.revision ?? 0n);
      keys.push(...r.events.map((e) => e.kv?.key ?? ''));
    }
    return 'done';
  })().catch((e: unknown) => e);
  return { revisions, keys, ended };
}

test('watches share one WatchStream call and each gets its own events only', async () => {
  const c = await cluster(1);
  const stop = new AbortController();
  const a = collect(c.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  const b = collect(c.kvWatch('b', { startRevision: 1n, signal: stop.signal }));
  const dir = collect(c.kvWatch('dir/', { prefix: true, startRevision: 1n, signal: stop.signal }));
  await until(() => history.creates().length === 3);
  for (const key of ['a', 'b', 'dir/x', 'a', 'dir/y', 'c']) history.put(key);
  await until(() => a.revisions.length === 2 && b.revisions.length === 1 && dir.revisions.length === 2);
  expect(a.revisions).toEqual([1n, 4n]);
  expect(b.revisions).toEqual([2n]);
  expect(dir.keys).toEqual(['dir/x', 'dir/y']);
  expect(nodes[0]!.requests('watchStream')).toHaveLength(1);
  expect(new Set(history.creates().map((x) => x.watchId)).size).toBe(3);
  stop.abort();
  expect(await Promise.all([a.ended, b.ended, dir.ended])).toEqual(['done', 'done', 'done']);
});

test('after the node carrying the stream dies, every watch resumes elsewhere from its own next revision', async () => {
  const c = await cluster(2);
  history.replayOneEarly = true;
  const stop = new AbortController();
  const a = collect(c.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  const b = collect(c.kvWatch('b', { startRevision: 1n, signal: stop.signal }));
  await until(() => history.creates().length === 2);
  history.put('a');
  history.put('b');
  history.put('a');
  await until(() => a.revisions.length === 2 && b.revisions.length === 1);
  const first = history.carrier()!;
  const other = nodes.find((n) => n !== first)!;
  first.stop();
  history.streams.delete(first);
  history.put('b'); // 4: only the history holds it until the watches are back
  await until(() => history.creates(other.nodeId).length === 2, 10_000);
  expect(history.creates(other.nodeId).map((x) => [x.key, x.startRevision]).sort()).toEqual([['a', 4n], ['b', 3n]]);
  history.put('a'); // 5
  await until(() => a.revisions.length === 3 && b.revisions.length === 2);
  await new Promise((r) => setTimeout(r, 100)); // room for a repeat to show up
  expect(a.revisions).toEqual([1n, 3n, 5n]);
  expect(b.revisions).toEqual([2n, 4n]);
  expect(other.requests('watchStream')).toHaveLength(1);
  stop.abort();
  await Promise.all([a.ended, b.ended]);
}, 15_000);

test('a compacted start or a refused create ends that watch alone, with its status', async () => {
  const c = await cluster(1);
  history.compactedBelow = 3n;
  history.refuse = (w) => (w.key === 'bad' ? 'key must not be "bad"' : undefined);
  const stop = new AbortController();
  const live = collect(c.kvWatch('a', { startRevision: 3n, signal: stop.signal }));
  const compacted = (await c.kvWatch('a', { startRevision: 1n }).next().catch((e: unknown) => e)) as ServiceError;
  expect(compacted.code).toBe(status.OUT_OF_RANGE);
  expect(compacted.details).toBe('revision 1 has been compacted (up to 3); watch from a later revision');
  const refused = (await c.kvWatch('bad', { startRevision: 3n }).next().catch((e: unknown) => e)) as ServiceError;
  expect(refused.code).toBe(status.INVALID_ARGUMENT);
  expect(refused.details).toBe('key must not be "bad"');
  for (const key of ['x', 'y', 'a']) history.put(key);
  await until(() => live.revisions.length === 1);
  expect(live.revisions).toEqual([3n]);
  expect(nodes[0]!.requests('watchStream')).toHaveLength(1);
  // The node ended those two itself: the client sent no cancel for them.
  expect(history.requests.filter((r) => r.request.request?.$case === 'cancel')).toEqual([]);
  stop.abort();
  await live.ended;
});

test('a reader that stops cancels its watch; the last one ends the stream', async () => {
  const c = await cluster(1);
  const stop = new AbortController();
  const kept = collect(c.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  const leaving = c.kvWatch('b', { startRevision: 1n });
  const pending = leaving.next();
  await until(() => history.creates().length === 2);
  history.put('b');
  expect((await pending).value?.header?.revision).toBe(1n);
  await leaving.return(undefined);
  const leavingId = history.creates().find((x) => x.key === 'b')!.watchId;
  await until(() => history.requests.some((r) => r.request.request?.$case === 'cancel'));
  expect(history.requests.filter((r) => r.request.request?.$case === 'cancel').map((r) => (r.request.request?.$case === 'cancel' ? r.request.request.value.watchId : 0n))).toEqual([leavingId]);
  history.put('a');
  await until(() => kept.revisions.length === 1);
  stop.abort();
  await kept.ended;
  await until(() => history.streams.get(nodes[0]!)!.size === 0);
  // A new watch opens a new stream.
  const again = c.kvWatch('a', { startRevision: 1n });
  expect((await again.next()).value?.header?.revision).toBe(2n);
  await again.return(undefined);
  expect(nodes[0]!.requests('watchStream')).toHaveLength(2);
});

test('a watch past its deadline fails with DEADLINE_EXCEEDED and is cancelled on the stream', async () => {
  const c = await cluster(1);
  const stop = new AbortController();
  const other = collect(c.kvWatch('b', { startRevision: 1n, signal: stop.signal }));
  const t0 = Date.now();
  const error = (await c.kvWatch('quiet', { startRevision: 1n, deadlineMs: 300 }).next().catch((e: unknown) => e)) as ServiceError;
  expect(error.code).toBe(status.DEADLINE_EXCEEDED);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  await until(() => history.requests.some((r) => r.request.request?.$case === 'cancel'));
  history.put('b');
  await until(() => other.revisions.length === 1);
  stop.abort();
  await other.ended;
});

test('a stream carries at most its share of watches; more open another stream', async () => {
  nodes = [await FakeKvNode.start('n1')];
  history = new History();
  history.serve(nodes[0]!);
  const pool = new NodePool([nodes[0]!.address], { credentials: credentials.createInsecure(), channelOptions: {}, cooldownMs: 20, probeDeadlineMs: 200, healthCheckIntervalMs: 0 });
  const mux = new KvWatchMux({ pool, subscribeDeadlineMs: 2000, connectTimeoutMs: 1000, resubscribeMax: 3, watchesPerStream: 2 });
  const stop = new AbortController();
  try {
    const watches = ['a', 'b', 'c', 'd', 'e'].map((key) => collect(mux.watch({ request: { key, rangeEnd: '', startRevision: 1n, prevKv: false }, signal: stop.signal })));
    await until(() => history.creates().length === 5);
    expect(mux.streams).toBe(3);
    expect(nodes[0]!.requests('watchStream')).toHaveLength(3);
    for (const key of ['e', 'a']) history.put(key);
    await until(() => watches[0]!.revisions.length === 1 && watches[4]!.revisions.length === 1);
    expect(watches.map((w) => w.revisions)).toEqual([[2n], [], [], [], [1n]]);
    stop.abort();
    await Promise.all(watches.map((w) => w.ended));
    expect(mux.streams).toBe(0);
  } finally {
    mux.close();
    pool.close();
  }
});

test('closing the client ends its watches with CANCELLED', async () => {
  const c = await cluster(1);
  const w = collect(c.kvWatch('a', { startRevision: 1n }));
  await until(() => history.creates().length === 1);
  c.close();
  client = undefined;
  expect(((await w.ended) as ServiceError).code).toBe(status.CANCELLED);
});

test('a watch fails once streams broke under it too often without an event in between', async () => {
  nodes = [await FakeKvNode.start('n1')];
  history = new History();
  history.serve(nodes[0]!);
  client = new ConcordClient({ endpoints: [nodes[0]!.address], cooldownMs: 1, probeDeadlineMs: 200, watchResubscribeMax: 2 });
  // A node that takes the watch, then loses its majority, again and again.
  history.afterCreate = (_node, call) => setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details: 'no majority' }), 10);
  const error = (await client.kvWatch('a', { startRevision: 1n }).next().catch((e: unknown) => e)) as ServiceError;
  expect(error.code).toBe(status.UNAVAILABLE);
  expect(error.details).toBe('no majority');
  expect(nodes[0]!.requests('watchStream')).toHaveLength(3);
}, 10_000);

test('an event between breaks starts the count again', async () => {
  nodes = [await FakeKvNode.start('n1')];
  history = new History();
  history.serve(nodes[0]!);
  client = new ConcordClient({ endpoints: [nodes[0]!.address], cooldownMs: 1, probeDeadlineMs: 200, watchResubscribeMax: 1 });
  const stop = new AbortController();
  const a = collect(client.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  for (let i = 1; i <= 3; i++) {
    await until(() => history.carrier() !== undefined);
    history.put('a');
    await until(() => a.revisions.length === i);
    for (const call of history.streams.get(nodes[0]!)!.keys()) call.emit('error', { code: status.UNAVAILABLE, details: 'no majority' });
    history.streams.get(nodes[0]!)!.clear();
  }
  await until(() => history.carrier() !== undefined);
  expect(a.revisions).toEqual([1n, 2n, 3n]);
  stop.abort();
  expect(await a.ended).toBe('done');
}, 10_000);

test('closing the client while its watches wait to move ends them with CANCELLED', async () => {
  const c = await cluster(2);
  const w = collect(c.kvWatch('a', { startRevision: 1n }));
  await until(() => history.creates().length === 1);
  const carrier = history.carrier()!;
  for (const call of history.streams.get(carrier)!.keys()) call.emit('error', { code: status.UNAVAILABLE, details: 'stopping' });
  await new Promise((r) => setTimeout(r, 20)); // within the pause before the watch moves
  c.close();
  client = undefined;
  expect(((await w.ended) as ServiceError).code).toBe(status.CANCELLED);
});

test('a node that refuses the stream for its role is skipped at once', async () => {
  const c = await cluster(2);
  const replica = nodes[0]!;
  replica.watchStream = (call) => {
    const metadata = new Metadata();
    metadata.set('concord-not-applied', 'true');
    call.emit('error', { code: status.FAILED_PRECONDITION, details: 'node n1 is a replica', metadata });
  };
  const stop = new AbortController();
  // Twice, so one of them starts on the replica whichever node the round robin picks first.
  const a = collect(c.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  await until(() => history.creates().length === 1);
  stop.abort();
  await a.ended;
  const stop2 = new AbortController();
  const b = collect(c.kvWatch('a', { startRevision: 1n, signal: stop2.signal }));
  await until(() => history.creates().length === 2);
  history.put('a');
  await until(() => b.revisions.length === 1);
  expect(history.creates(replica.nodeId)).toEqual([]);
  expect(replica.requests('watchStream')).toHaveLength(1);
  stop2.abort();
  await b.ended;
});

test('a stream ended for reading too slowly resumes; an answer over the receive limit fails the watch', async () => {
  const c = await cluster(1);
  const stop = new AbortController();
  const a = collect(c.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  await until(() => history.creates().length === 1);
  history.put('a');
  await until(() => a.revisions.length === 1);
  const [call] = history.streams.get(nodes[0]!)!.keys();
  history.streams.get(nodes[0]!)!.clear();
  call!.emit('error', { code: status.RESOURCE_EXHAUSTED, details: `${readTooSlowlyPhrase}: 10001 answers wait to be sent; watch again from the last revision read of each watch + 1` });
  history.put('a');
  await until(() => a.revisions.length === 2);
  expect(history.creates().map((x) => x.startRevision)).toEqual([1n, 2n]);
  const [again] = history.streams.get(nodes[0]!)!.keys();
  again!.emit('error', { code: status.RESOURCE_EXHAUSTED, details: 'Received message larger than max (5000 vs. 4000)' });
  expect(((await a.ended) as ServiceError).code).toBe(status.RESOURCE_EXHAUSTED);
  expect(nodes[0]!.requests('watchStream')).toHaveLength(2);
});

test('a deadline past a timer\'s range is no deadline', async () => {
  const c = await cluster(1);
  const stop = new AbortController();
  const a = collect(c.kvWatch('a', { startRevision: 1n, deadlineMs: 30 * 24 * 3600 * 1000, signal: stop.signal }));
  await until(() => history.creates().length === 1);
  await new Promise((r) => setTimeout(r, 50));
  history.put('a');
  await until(() => a.revisions.length === 1);
  stop.abort();
  expect(await a.ended).toBe('done');
});

test('a watch whose stream fails over to a node of an earlier version goes on over Watch from its next revision', async () => {
  nodes = [await FakeKvNode.start('n1'), await FakeKvNode.start('n2')];
  history = new History();
  history.serve(nodes[0]!);
  history.serveWatchOnly(nodes[1]!);
  // The new node first, whichever the round robin starts with: the old one is down until then.
  nodes[1]!.stop();
  client = fastClient(nodes);
  const stop = new AbortController();
  const a = collect(client.kvWatch('a', { startRevision: 1n, signal: stop.signal }));
  await until(() => history.creates().length === 1);
  history.put('a');
  history.put('a');
  await until(() => a.revisions.length === 2);
  await nodes[1]!.restart();
  nodes[0]!.stop();
  history.streams.delete(nodes[0]!);
  history.put('a');
  await until(() => a.revisions.length === 3, 10_000);
  history.put('a');
  await until(() => a.revisions.length === 4);
  await new Promise((r) => setTimeout(r, 100)); // room for a repeat to show up
  expect(a.revisions).toEqual([1n, 2n, 3n, 4n]);
  expect(nodes[1]!.requests<KvWatchRequest>('watch').map((r) => r.startRevision)).toEqual([3n]);
  stop.abort();
  await a.ended;
}, 15_000);
