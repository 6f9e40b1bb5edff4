// Two masters and a witness: the witness votes, so the authoritative path survives losing one
// master, but it holds no documents and never counts towards document durability (ALL means
// both masters; with one master down ALL fails while LOCAL and KV writes still succeed).
import { status } from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeLoopbackPorts } from '../../clients/cli/freeLoopbackPorts';
import { NodeProcess } from '../../clients/cli/NodeProcess';
import { AckLevel } from '../../proto/gen/concord/v1/documents';
import { kvStubs, text } from './kvStubs';
import { codeOf, eventually, nodeStubs } from './nodeStubs';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { ops } from '../../clients/client/ops';

const roles = [['m1', 'master'], ['m2', 'master'], ['w', 'witness']] as const;
const set = ops.set;
let dir: string;
let procs: NodeProcess[];
let addresses: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-witness-'));
  const ports = await freeLoopbackPorts(3);
  addresses = ports.map((p) => `127.0.0.1:${p}`);
  procs = roles.map(([id, role], i) => {
    const peers = roles.map(([pid, prole], j) => (j === i ? '' : `${pid}=${addresses[j]}/${prole}`)).filter((x) => x !== '').join(',');
    return new NodeProcess({
      id,
      entry: path.resolve(__dirname, '..', '..', 'services/node/main.ts'),
      args: ['--id', id, '--role', role, '--listen', addresses[i]!, '--peers', peers, '--data-dir', path.join(dir, id), '--heartbeat-interval-ms', '200'],
      cwd: path.resolve(__dirname, '..', '..'),
      env: process.env,
      readyTimeoutMs: 30_000,
    }, () => undefined);
  });
  await Promise.all(procs.map((p) => p.start()));
}, 60_000);

afterAll(async () => {
  await Promise.all((procs ?? []).map((p) => p.stop(5000)));
  fs.rmSync(dir, { recursive: true, force: true });
});


test('the witness holds no documents and ALL means both masters', async () => {
  const [m1, m2, w] = addresses.map((a) => nodeStubs(a));
  try {
    // Ready means serving, not yet linked: ALL fails fast while m2 is unreachable from m1.
    await eventually('m1 reaches m2', async () => (await m1!.status()).peers.some((p) => p.nodeId === 'm2' && p.reachable));
    const res = await m1!.apply({ documentId: 'w/doc', operations: [set(['m', 'k'], 1)], ack: AckLevel.ACK_LEVEL_ALL });
    expect(res.ackedBy).toBe(2);
    expect((await m2!.get({ documentId: 'w/doc' })).json).toBe('{"m":{"k":1}}');
    const write = await codeOf(w!.apply({ documentId: 'w/doc', operations: [set(['m', 'k'], 2)] }));
    expect(write.code).toBe(status.FAILED_PRECONDITION);
    expect(write.details).toMatch(/witness/);
    const read = await codeOf(w!.get({ documentId: 'w/doc' }));
    expect(read.code).toBe(status.FAILED_PRECONDITION);
    expect(read.details).toMatch(/holds no documents; use a master \(m1, m2\)/);
    expect(read.metadata?.get('concord-masters')).toEqual(['m1,m2']);
    expect((await w!.status()).documents).toBe(0n);
  } finally {
    [m1, m2, w].forEach((s) => s!.close());
  }
});

test('a client that lists the witness first is sent to a master, for writes, reads and watches', async () => {
  const m1 = nodeStubs(addresses[0]!);
  const client = new ConcordClient({ endpoints: [addresses[2]!, addresses[0]!] });
  const abort = new AbortController();
  try {
    await m1.apply({ documentId: 'w/watched', operations: [set(['m', 'k'], 1)] });
    // A watch first (the client has not learnt the witness's role yet): the whole document
    // comes first (empty from_version), then each change.
    const events = client.watch('w/watched', { includeJson: true, signal: abort.signal });
    expect((await events.next()).value?.json).toBe('{"m":{"k":1}}');
    await m1.apply({ documentId: 'w/watched', operations: [set(['m', 'k'], 2)] });
    expect((await events.next()).value?.json).toBe('{"m":{"k":2}}');
    expect((await client.apply('w/watched', [set(['m', 'k'], 3)])).nodeId).toBe('m1');
    expect((await client.get('w/watched')).json).toBe('{"m":{"k":3}}');
  } finally {
    abort.abort();
    client.close();
    m1.close();
  }
});

test('with one master down the witness keeps the authoritative path alive; ALL fails clearly', async () => {
  const kv = addresses.map((a) => kvStubs(a));
  const m1 = nodeStubs(addresses[0]!);
  try {
    await eventually('kv ready', async () => (await kv[0]!.put('acct/x', '1')).header !== undefined);
    await procs[1]!.kill('SIGKILL');
    await eventually('kv works without m2', async () => (await kv[0]!.counterAdd('wallet/w', 5, 0, 1000)).value === 5n, 10_000);
    expect(text((await kv[2]!.get('wallet/w')).kvs[0]?.value)).toBe('5');
    expect((await m1.apply({ documentId: 'w/doc', operations: [set(['m', 'local'], 1)] })).ackedBy).toBe(1);
    const all = await codeOf(m1.apply({ documentId: 'w/doc', operations: [set(['m', 'all'], 1)], ack: AckLevel.ACK_LEVEL_ALL }, 5000));
    expect(all.code).toBe(status.UNAVAILABLE);
    expect(all.details).toMatch(/durable on 1 of 2 masters/);
  } finally {
    kv.forEach((k) => k.close());
    m1.close();
  }
}, 60_000);
