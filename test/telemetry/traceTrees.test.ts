// Three real nodes export their spans over OTLP/gRPC to a real trace receiver started here, and
// the traces have the shape an operator relies on in Jaeger: a write acknowledged by ALL is one
// trace from the test's client span through the accepting node's server and persist spans to the
// apply on both other nodes; an authoritative transaction is one trace from the client through
// the forward to the leader, the proposal, the append on every voter, the commit and the apply
// on every voter; a partition and heal gives each node an episode span with the ledger's numbers.
import { credentials } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConcordWebApi } from '../../clients/mobile/src/ConcordWebApi';
import type { CallRecord } from '../../clients/mobile/src/grpcWebCall';
import { AckLevel, DocumentServiceClient } from '../../proto/gen/concord/v1/documents';
import * as kv from '../../proto/gen/concord/v1/kv';
import { callUnary } from '../../services/node/callUnary';
import { grpcClientTracing } from '../../services/telemetry/grpcClientTracing';
import * as names from '../../services/telemetry/names';
import { eventually } from '../integration/nodeStubs';
import { startTestCluster, testAdminToken, TestCluster } from '../integration/startTestCluster';
import { OtlpReceiver, ReceivedSpan } from './OtlpReceiver';
import { startTestTracing, testClientService } from './testTracing';
import { ops } from '../../clients/client/ops';

const set = ops.set;

let receiver: OtlpReceiver;
let tracing: { shutdown(): Promise<void> };
let tc: TestCluster;
const traced = { interceptors: [grpcClientTracing()] };

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  tracing = startTestTracing(receiver.endpoint);
  tc = await startTestCluster(3, [], {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_TRACES_SAMPLER: undefined,
    OTEL_SERVICE_NAME: undefined,
  });
  // ALL acks need every link up; on a busy machine the last one may take a moment.
  await eventually('every peer link up', async () => (await Promise.all(tc.stubs.map((s) => s.status()))).every((st) => st.peers.every((p) => p.reachable)));
}, 60_000);

afterAll(async () => {
  await tc?.stop();
  await tracing?.shutdown();
  await receiver?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(tc.logs.slice(-40).join('\n'));
});

const node = (s: ReceivedSpan): string => String(s.resource[names.ATTR_SERVICE_INSTANCE_ID] ?? '');
const inTrace = (traceId: string): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId);
const childrenOf = (parent: ReceivedSpan, name: string): ReceivedSpan[] => inTrace(parent.traceId).filter((s) => s.parentSpanId === parent.spanId && s.name === name);
const only = (spans: ReceivedSpan[], what: string): ReceivedSpan => {
  if (spans.length !== 1) throw new Error(`expected exactly one ${what}, got ${spans.length}`);
  return spans[0] as ReceivedSpan;
};

/** The trace of the test client's call of `method` whose server-side spans carry `attr=value`. */
function clientSpanOf(method: string, matches: (s: ReceivedSpan) => boolean): ReceivedSpan | undefined {
  return receiver.spans.find((c) => c.kind === 'CLIENT' && c.resource[names.ATTR_SERVICE_NAME] === testClientService
    && c.attributes[names.ATTR_RPC_METHOD] === method && inTrace(c.traceId).some(matches));
}

test('a write with ALL ack is one trace: client, server, persist, and send + apply for each other node', async () => {
  const n1 = tc.cluster.nodes[0]!;
  const docs = new DocumentServiceClient(n1.address, credentials.createInsecure(), traced);
  try {
    const res = await callUnary(docs.apply.bind(docs), { documentId: 'traced/all', operations: [set(['m', 'v'], 1)], ack: AckLevel.ACK_LEVEL_ALL }, 5000);
    expect(res.ackedBy).toBe(3);
  } finally {
    docs.close();
  }
  const isPersist = (s: ReceivedSpan): boolean => s.name === names.SPAN_DOCUMENT_PERSIST && s.attributes[names.ATTR_DOCUMENT_ID] === 'traced/all';
  await receiver.waitFor('the write trace with both applies', () => {
    const client = clientSpanOf('Apply', isPersist);
    return client !== undefined && inTrace(client.traceId).filter((s) => s.name === names.SPAN_REPLICATION_SEND || s.name === names.SPAN_REPLICATION_APPLY).length >= 4;
  });

  const client = clientSpanOf('Apply', isPersist)!;
  expect(client.parentSpanId).toBe('');
  expect(client.attributes[names.ATTR_RPC_SERVICE]).toBe('concord.v1.DocumentService');

  const server = only(childrenOf(client, names.rpcSpanName('/concord.v1.DocumentService/Apply')), 'server span');
  expect(server.kind).toBe('SERVER');
  expect(node(server)).toBe('n1');
  expect(server.resource[names.ATTR_SERVICE_NAME]).toBe(names.serviceNames.node);
  expect(server.attributes[names.ATTR_RPC_GRPC_STATUS_CODE]).toBe(0);

  const persist = only(childrenOf(server, names.SPAN_DOCUMENT_PERSIST), 'persist span');
  expect(node(persist)).toBe('n1');
  expect(persist.attributes).toMatchObject({ [names.ATTR_ACK_LEVEL]: 'all', [names.ATTR_DOCUMENT_ID]: 'traced/all', [names.ATTR_NODE_ID]: 'n1' });
  expect(persist.attributes[names.ATTR_UPDATE_BYTES]).toBeGreaterThan(0);

  const ackWait = only(childrenOf(server, names.SPAN_DOCUMENT_ACK_WAIT), 'ack wait span');
  expect(ackWait.attributes).toMatchObject({ [names.ATTR_ACK_REQUIRED]: 3, [names.ATTR_ACKED_BY]: 3 });

  const sends = childrenOf(persist, names.SPAN_REPLICATION_SEND);
  expect(sends.map((s) => s.attributes[names.ATTR_PEER_NODE_ID]).sort()).toEqual(['n2', 'n3']);
  for (const send of sends) {
    const peer = send.attributes[names.ATTR_PEER_NODE_ID] as string;
    expect(send.kind).toBe('PRODUCER');
    expect(node(send)).toBe('n1');
    expect(send.attributes[names.ATTR_REPLICATION_OUTCOME]).toBe('acked');
    // The apply runs on the peer, as a child of the send: carried inside the replication batch.
    const apply = only(childrenOf(send, names.SPAN_REPLICATION_APPLY), `apply on ${peer}`);
    expect(apply.kind).toBe('CONSUMER');
    expect(node(apply)).toBe(peer);
    expect(apply.attributes).toMatchObject({ [names.ATTR_NODE_ID]: peer, [names.ATTR_PEER_NODE_ID]: 'n1', [names.ATTR_DOCUMENT_ID]: 'traced/all' });
    // Durable on the peer before its ack closed the send, and before the ALL ack went out.
    expect(apply.endMs).toBeLessThanOrEqual(send.endMs + 1);
    expect(apply.endMs).toBeLessThanOrEqual(server.endMs + 1);
  }
});

test('an authoritative transaction is one trace: forward to the leader, proposal, append on every voter, commit, apply', async () => {
  await eventually('a leader', async () => (await tc.stubs[0]!.status()).authority?.leaderId !== '');
  let leaderId = (await tc.stubs[0]!.status()).authority!.leaderId;
  const follower = tc.cluster.nodes.find((n) => n.id !== leaderId)!;
  const client = new kv.KvServiceClient(follower.address, credentials.createInsecure(), traced);
  try {
    const res = await callUnary(client.txn.bind(client), {
      compare: [{ key: 'traced/name', target: 0, result: 0, targetUnion: { $case: 'version', value: 0n } }],
      success: [{ request: { $case: 'requestPut', value: { key: 'traced/name', value: new TextEncoder().encode('ann'), lease: 0n, prevKv: false } } }],
      failure: [],
    }, 5000);
    expect(res.succeeded).toBe(true);
  } finally {
    client.close();
  }
  const isTxnProposal = (s: ReceivedSpan): boolean => s.name === names.SPAN_CONSENSUS_PROPOSE && s.attributes[names.ATTR_RAFT_COMMAND] === 'txn';
  await receiver.waitFor('proposal, 3 appends, commit, 3 applies', () => {
    const c = clientSpanOf('Txn', isTxnProposal);
    if (c === undefined) return false;
    const spans = inTrace(c.traceId);
    return spans.filter((s) => s.name === names.SPAN_CONSENSUS_APPEND).length >= 3 && spans.filter((s) => s.name === names.SPAN_CONSENSUS_APPLY).length >= 3
      && spans.some((s) => s.name === names.SPAN_CONSENSUS_COMMIT) && spans.some(isTxnProposal);
  });

  const root = clientSpanOf('Txn', isTxnProposal)!;
  const txnSpan = names.rpcSpanName('/concord.v1.KvService/Txn');
  const first = only(childrenOf(root, txnSpan), 'server span on the called node');
  expect(first.kind).toBe('SERVER');
  expect(node(first)).toBe(follower.id);
  let atLeader = first;
  if (childrenOf(first, names.SPAN_CONSENSUS_PROPOSE).length === 0) {
    // The follower forwards the call to the leader: a client span there, the leader's server span under it.
    const forward = only(childrenOf(first, txnSpan), 'forwarding client span');
    expect(forward.kind).toBe('CLIENT');
    expect(node(forward)).toBe(follower.id);
    atLeader = only(childrenOf(forward, txnSpan), 'server span on the leader');
    expect(atLeader.kind).toBe('SERVER');
    expect(node(atLeader)).toBe(leaderId);
  } else {
    console.log(`${follower.id} became the leader before the call arrived: no forward in this trace`);
    leaderId = follower.id;
  }

  const proposal = only(childrenOf(atLeader, names.SPAN_CONSENSUS_PROPOSE), 'proposal');
  expect(node(proposal)).toBe(leaderId);
  const index = proposal.attributes[names.ATTR_RAFT_INDEX];
  expect(index).toBeGreaterThan(0);

  const appends = childrenOf(proposal, names.SPAN_CONSENSUS_APPEND);
  expect(appends.map(node).sort()).toEqual(['n1', 'n2', 'n3']);
  for (const a of appends) {
    expect(a.attributes[names.ATTR_RAFT_INDEX]).toBe(index);
    expect(a.attributes[names.ATTR_RAFT_ROLE]).toBe(node(a) === leaderId ? 'leader' : 'follower');
  }
  const commit = only(childrenOf(proposal, names.SPAN_CONSENSUS_COMMIT), 'commit');
  expect(node(commit)).toBe(leaderId);
  expect(commit.attributes[names.ATTR_RAFT_INDEX]).toBe(index);
  const leaderAppend = appends.find((a) => node(a) === leaderId)!;
  expect(commit.startMs).toBeGreaterThanOrEqual(leaderAppend.endMs - 1);
  // A majority appended before the commit: the leader and at least one follower.
  expect(appends.filter((a) => a.endMs <= commit.endMs + 1).length).toBeGreaterThanOrEqual(2);

  const applies = childrenOf(proposal, names.SPAN_CONSENSUS_APPLY);
  expect(applies.map(node).sort()).toEqual(['n1', 'n2', 'n3']);
  for (const a of applies) {
    expect(a.attributes[names.ATTR_RAFT_INDEX]).toBe(index);
    expect(a.startMs).toBeGreaterThanOrEqual(commit.endMs - 1);
  }
  expect(proposal.endMs).toBeGreaterThanOrEqual(applies.find((a) => node(a) === leaderId)!.endMs - 1);
});

test('a partition and its heal: an episode span per cut link, with the ledger\'s numbers', async () => {
  const ids = tc.cluster.nodes.map((n) => n.id);
  // n1 | n2 n3, cut on every node with the admin token.
  await Promise.all(tc.stubs.map((s, i) => s.setLinkFaults((i === 0 ? ids.slice(1) : ['n1']).map((peerId) => ({ peerId, cut: true, delayMs: 0 })), true, testAdminToken)));
  const [a, b] = tc.stubs;
  for (let i = 0; i < 4; i++) await a!.apply({ documentId: 'traced/split', operations: [set(['m', `a${i}`], i)] });
  for (let i = 0; i < 3; i++) await b!.apply({ documentId: 'traced/split', operations: [set(['m', `b${i}`], i)] });
  await Promise.all(tc.stubs.map((s) => s.setLinkFaults([], true, testAdminToken)));

  const episodeOn = (nodeId: string, peerId: string) => (s: ReceivedSpan): boolean =>
    s.name === names.SPAN_PARTITION_EPISODE && node(s) === nodeId && s.attributes[names.ATTR_PEER_NODE_ID] === peerId;
  await receiver.waitFor('episode spans on n1 (both peers) and on n2', () =>
    receiver.spans.some(episodeOn('n1', 'n2')) && receiver.spans.some(episodeOn('n1', 'n3')) && receiver.spans.some(episodeOn('n2', 'n1')), 20_000);

  const ledger = (await a!.ledger()).episodes;
  for (const peer of ['n2', 'n3']) {
    const span = receiver.spans.filter(episodeOn('n1', peer)).pop()!;
    const ep = ledger.find((e) => e.id === span.attributes[names.ATTR_PARTITION_EPISODE_ID])!;
    expect(ep).toBeDefined();
    expect(span.parentSpanId).toBe('');
    expect(span.attributes).toMatchObject({
      [names.ATTR_NODE_ID]: 'n1',
      [names.ATTR_PARTITION_CAUSE]: 'injected',
      [names.ATTR_PARTITION_LOCAL_UPDATES]: Number(ep.localUpdates),
      [names.ATTR_PARTITION_REMOTE_UPDATES]: Number(ep.remoteUpdates),
      [names.ATTR_PARTITION_DOCUMENTS_DIVERGED]: Number(ep.documentsDiverged),
      [names.ATTR_PARTITION_DOCUMENTS_EXCHANGED]: Number(ep.documentsExchanged),
      [names.ATTR_PARTITION_BYTES_EXCHANGED]: Number(ep.bytesExchanged),
    });
    expect(ep.localUpdates).toBe(4n); // the four writes n1 took while cut
    expect(span.startMs).toBe(Number(ep.startedAtMs));
    expect(span.endMs).toBe(Number(ep.convergedAtMs));
    expect(span.events.map((e) => e.name)).toEqual([names.EVENT_PARTITION_CUT, names.EVENT_PARTITION_HEALED, names.EVENT_PARTITION_CONVERGED]);
    expect(span.events.map((e) => e.timeMs)).toEqual([Number(ep.startedAtMs), Number(ep.healedAtMs), Number(ep.convergedAtMs)]);
  }
  const onB = receiver.spans.filter(episodeOn('n2', 'n1')).pop()!;
  expect(onB.attributes[names.ATTR_PARTITION_LOCAL_UPDATES]).toBe(3);
}, 60_000);

test('an anti-entropy round that repairs a node has a span with its numbers, the Sync call and the peer\'s server span under it', async () => {
  // n3 takes a write while cut off, then dies before pushing it: only anti-entropy can bring it
  // to the others once n3 is back (push replication queues live in memory).
  const ids = tc.cluster.nodes.map((n) => n.id);
  await Promise.all(tc.stubs.map((s, i) => s.setLinkFaults((i === 2 ? ['n1', 'n2'] : ['n3']).map((peerId) => ({ peerId, cut: true, delayMs: 0 })), true, testAdminToken)));
  await tc.stubs[2]!.apply({ documentId: 'traced/repair', operations: [set(['m', 'v'], 'from n3')] });
  await Promise.all(tc.stubs.slice(0, 2).map((s) => s.setLinkFaults([], true, testAdminToken)));
  await tc.cluster.kill('n3', 'SIGKILL');
  await tc.cluster.restart('n3');

  const repairing = (s: ReceivedSpan): boolean => s.name === names.SPAN_ANTI_ENTROPY_ROUND && Number(s.attributes[names.ATTR_AE_DOCUMENTS]) > 0
    && [node(s), s.attributes[names.ATTR_PEER_NODE_ID]].includes('n3');
  await receiver.waitFor('a round that repairs n3\'s write', () => receiver.spans.some(repairing), 20_000);
  const round = receiver.spans.find(repairing)!;
  expect(round.parentSpanId).toBe('');
  expect(Number(round.attributes[names.ATTR_AE_BYTES_SENT]) + Number(round.attributes[names.ATTR_AE_BYTES_RECEIVED])).toBeGreaterThan(0);
  expect(round.attributes[names.ATTR_NODE_ID]).toBe(node(round));
  const peer = round.attributes[names.ATTR_PEER_NODE_ID] as string;
  expect(ids).toContain(peer);
  const syncName = names.rpcSpanName('/concord.v1.PeerService/Sync');
  await receiver.waitFor('the round\'s Sync on the peer', () => inTrace(round.traceId).some((s) => s.kind === 'SERVER' && s.name === syncName));
  const sync = only(childrenOf(round, syncName), 'Sync client span');
  expect(sync.kind).toBe('CLIENT');
  expect(node(sync)).toBe(node(round));
  expect(node(only(childrenOf(sync, syncName), 'Sync server span'))).toBe(peer);
  await eventually('n1 has n3\'s write', async () => JSON.parse((await tc.stubs[0]!.get({ documentId: 'traced/repair' })).json).m?.v === 'from n3');
}, 60_000);

test('a call through a traced gateway stays in the trace id the gateway gives the page', async () => {
  const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-gw-static-'));
  const gateway = spawn(process.execPath, ['--import', 'tsx', 'services/gateway/main.ts', '--port', '0', '--static-dir', staticDir,
    '--nodes', tc.cluster.nodes.map((n) => `${n.id}=${n.address}`).join(',')], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: '', OTEL_TRACES_SAMPLER: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      gateway.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /gateway on (http:\/\/\S+?)\/? /.exec(out);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      gateway.once('exit', (code) => reject(new Error(`gateway exited (${String(code)}): ${out}`)));
    });
    const calls: CallRecord[] = [];
    const api = new ConcordWebApi({ baseUrl: url, onCall: (c) => void calls.push(c) });
    await api.get('traced/gw', new Uint8Array()).catch(() => undefined); // NOT_FOUND is fine: the call is traced either way
    const traceId = calls[0]?.traceId ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await receiver.waitFor('the gateway\'s client span and the node\'s server span in the page\'s trace', () => {
      const spans = inTrace(traceId);
      return spans.some((s) => s.resource[names.ATTR_SERVICE_NAME] === names.serviceNames.gateway && s.kind === 'CLIENT')
        && spans.some((s) => s.kind === 'SERVER' && node(s) !== '');
    });
  } finally {
    gateway.kill('SIGTERM');
    fs.rmSync(staticDir, { recursive: true, force: true });
  }
}, 60_000);
