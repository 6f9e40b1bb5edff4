import { Metadata, status } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pb from '../../proto/gen/concord/v1/kv';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { ops } from '../../clients/client/ops';
import { tlsChannelCredentials } from '../../clients/client/tlsCredentials';
import type { TlsFiles } from '../../clients/client/tlsFiles';
import { forwardedByHeader, forwardedForHeader } from '../../services/rpc/CallAuthorizer';
import { testAdminToken, startTestCluster, type TestCluster } from './startTestCluster';

// An access policy on three real mutual-TLS node processes: users named by their client
// certificates (test/fixtures/tls: alice, bob, a nameless one) may do what their roles grant and
// get PERMISSION_DENIED for the rest, on every path (unary calls, each write of a stream, each
// watch of a watch stream, a KV write a follower forwards to the leader); a forged "forwarded
// for" header counts for nothing; the policy reloads without a restart and a bad edit leaves it
// in force; the CLI shows who a node takes the caller for.

const repoRoot = path.resolve(__dirname, '../..');
const fixture = (name: string): string => path.join(repoRoot, 'test/fixtures/tls', name);
const filesOf = (name: string): TlsFiles => ({ certFile: fixture(`${name}.pem`), keyFile: fixture(`${name}-key.pem`), caFile: fixture('ca.pem') });
const tlsArgs = (f: TlsFiles): string[] => ['--tls-cert', f.certFile, '--tls-key', f.keyFile, '--tls-ca', f.caFile];

const policy = (aliceRoles: string[]): object => ({
  roles: {
    app: {
      documents: [{ prefix: 'app/', access: 'readwrite' }],
      kv: [{ prefix: 'app/', access: 'readwrite' }, { key: 'config/flags', access: 'read' }],
    },
    other: { documents: [{ prefix: 'other/', access: 'write' }] },
    reader: { documents: [{ prefix: '', access: 'read' }], kv: [{ prefix: '', access: 'read' }] },
    operator: { admin: 'readwrite', documents: [{ prefix: '', access: 'readwrite' }], kv: [{ prefix: '', access: 'readwrite' }] },
  },
  users: { alice: { roles: aliceRoles }, bob: { roles: ['reader'] }, 'concord client': { roles: ['operator'] } },
});

jest.setTimeout(90_000);

let tc: TestCluster;
let dir: string;
let policyFile: string;
const clients: ConcordClient[] = [];
const clientAs = (name: string): ConcordClient => {
  const c = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address), tls: filesOf(name), deadlineMs: 5000 });
  clients.push(c);
  return c;
};
const denied = (details: string | RegExp): object => ({ code: status.PERMISSION_DENIED, details: typeof details === 'string' ? expect.stringContaining(details) : expect.stringMatching(details) });
const set = (at: string[], value: unknown): ReturnType<typeof ops.set> => ops.set(at, value);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-authz-'));
  policyFile = path.join(dir, 'policy.json');
  fs.writeFileSync(policyFile, JSON.stringify(policy(['app'])));
  tc = await startTestCluster(3, [...tlsArgs(filesOf('node')), '--authz-file', policyFile, '--tls-reload-interval-ms', '200'], {}, 'whole', tlsChannelCredentials(filesOf('client')));
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await tc?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('documents: a user reads and writes what its roles grant, and is refused the rest with the reason', async () => {
  const alice = clientAs('alice');
  const bob = clientAs('bob');
  await alice.apply('app/doc', [set(['m', 'k'], 'v')]);
  expect(JSON.parse((await alice.get('app/doc')).json)).toEqual({ m: { k: 'v' } });
  expect((await alice.list('app/')).documents.map((d) => d.documentId)).toEqual(['app/doc']);
  await expect(alice.apply('other/doc', [set(['m', 'k'], 'v')])).rejects.toMatchObject(denied('permission denied: "alice" (roles: app) may not write document "other/doc"'));
  await expect(alice.list('')).rejects.toMatchObject(denied('"alice" (roles: app) may not read every document'));
  // bob reads everything and writes nothing.
  expect(JSON.parse((await bob.get('app/doc')).json)).toEqual({ m: { k: 'v' } });
  await expect(bob.apply('app/doc', [set(['m', 'k'], 'w')])).rejects.toMatchObject(denied('"bob" (roles: reader) may not write document "app/doc"'));
  await expect(bob.pushUpdate('app/doc', new Uint8Array([0, 0]))).rejects.toMatchObject(denied('may not write document "app/doc"'));
  // A refused write changed nothing.
  expect(JSON.parse((await bob.get('app/doc')).json)).toEqual({ m: { k: 'v' } });
  await expect(alice.get('other/doc')).rejects.toMatchObject(denied('may not read document "other/doc"'));
  const watch = alice.watch('other/doc');
  await expect(watch.next()).rejects.toMatchObject(denied('may not read document "other/doc"'));
});

test('each write of a stream is checked on its own: the refused one fails alone', async () => {
  const writer = clientAs('alice').writer();
  try {
    const results = await Promise.allSettled([
      writer.apply('app/s1', [set(['m', 'n'], 1)]),
      writer.apply('other/s2', [set(['m', 'n'], 2)]),
      writer.apply('app/s3', [set(['m', 'n'], 3)]),
    ]);
    expect(results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : r.status))).toEqual(['fulfilled', expect.stringContaining('PERMISSION_DENIED'), 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject(denied('may not write document "other/s2"'));
  } finally {
    await writer.close();
  }
});

test('kv: keys, ranges, transactions, counters and leases by the roles; a follower forwards for the user and the leader checks it again', async () => {
  const alice = clientAs('alice');
  const bob = clientAs('bob');
  const admin = clientAs('client');
  await admin.kvPut('config/flags', 'on');
  expect(Buffer.from((await alice.kvRange('config/flags')).kvs[0]!.value).toString()).toBe('on');
  await expect(alice.kvPut('config/flags', 'off')).rejects.toMatchObject(denied('"alice" (roles: app) may not write kv key "config/flags"'));
  await expect(alice.kvRange('config/', { prefix: true })).rejects.toMatchObject(denied('may not read kv keys with prefix "config/"'));
  await expect(alice.kvTxn({ compare: [{ key: 'config/other', target: pb.Compare_CompareTarget.VERSION, result: pb.Compare_CompareResult.EQUAL, targetUnion: { $case: 'version', value: 0n } }], success: [] }))
    .rejects.toMatchObject(denied('may not read kv key "config/other"'));
  expect((await alice.counterAdd('app/n', 5)).value).toBe(5n);
  await expect(bob.counterAdd('app/n', 5)).rejects.toMatchObject(denied('"bob" (roles: reader) may not write kv key "app/n"'));
  // Leases: alice may write some keys, bob none; revoking a lease deletes its keys, so it needs write on them.
  const lease = await alice.leaseGrant(60_000);
  await expect(bob.leaseGrant(60_000)).rejects.toMatchObject(denied('may not write any kv key'));
  const foreign = await admin.leaseGrant(60_000);
  await admin.kvPut('config/leased', 'x', { lease: foreign.id });
  await expect(alice.leaseRevoke(foreign.id)).rejects.toMatchObject(denied('may not write kv key "config/leased"'));
  await alice.leaseRevoke(lease.id);
  await expect(alice.kvCompact(1)).rejects.toMatchObject(denied('may not write admin calls'));

  // A put through a follower is forwarded to the leader in alice's name: allowed and refused alike.
  const leader = (await tc.stubs[0]!.status()).authority?.leaderId ?? '';
  const follower = tc.cluster.nodes.find((n) => n.id !== leader)!;
  const viaFollower = new ConcordClient({ endpoints: [follower.address], tls: filesOf('alice'), deadlineMs: 5000 });
  clients.push(viaFollower);
  expect((await viaFollower.kvPut('app/forwarded', 'v')).header?.leaderId).toBe(leader);
  await expect(viaFollower.kvPut('config/flags', 'v')).rejects.toMatchObject(denied('"alice" (roles: app) may not write kv key "config/flags"'));

  // A client that claims to be forwarding for someone else is still itself (only a node's
  // certificate makes the header count).
  const raw = new pb.KvServiceClient(tc.cluster.nodes.find((n) => n.id === leader)!.address, tlsChannelCredentials(filesOf('alice')));
  try {
    const md = new Metadata();
    md.set(forwardedForHeader, encodeURIComponent('concord client'));
    const forged = await new Promise<{ code: number; details: string }>((resolve) => {
      raw.put(pb.PutRequest.fromPartial({ key: 'config/flags', value: Buffer.from('forged') }), md, { deadline: Date.now() + 5000 }, (err) => resolve({ code: err?.code ?? status.OK, details: err?.details ?? '' }));
    });
    expect(forged).toEqual(denied('"alice" (roles: app) may not write kv key "config/flags"'));
  } finally {
    raw.close();
  }
  // The leader checks a forwarded write again, as the user it was forwarded for: a node's
  // certificate forwarding for alice may do what alice may, no more.
  const leaderAddress = tc.cluster.nodes.find((n) => n.id === leader)!.address;
  const asNode = new pb.KvServiceClient(leaderAddress, tlsChannelCredentials(filesOf('node')));
  try {
    const forward = (key: string): Promise<{ code: number; details: string }> => new Promise((resolve) => {
      const md = new Metadata();
      md.set(forwardedForHeader, 'alice');
      md.set(forwardedByHeader, follower.id);
      asNode.put(pb.PutRequest.fromPartial({ key, value: Buffer.from('v') }), md, { deadline: Date.now() + 5000 }, (err) => resolve({ code: err?.code ?? status.OK, details: err?.details ?? '' }));
    });
    expect(await forward('app/by-node')).toEqual({ code: status.OK, details: '' });
    expect(await forward('config/flags')).toEqual(denied(`"alice" (roles: app) may not write kv key "config/flags" (forwarded by ${follower.id})`));
  } finally {
    asNode.close();
  }
  expect(Buffer.from((await admin.kvRange('config/flags')).kvs[0]!.value).toString()).toBe('on');
});

test('a watch stream refuses the watches the user may not read and keeps the others', async () => {
  const raw = new pb.KvServiceClient(tc.cluster.nodes[0]!.address, tlsChannelCredentials(filesOf('alice')));
  const call = raw.watchStream();
  call.on('error', () => undefined); // the cancel below ends it
  try {
    const answers: pb.KvWatchStreamResponse[] = [];
    const two = new Promise<void>((resolve) => call.on('data', (m: pb.KvWatchStreamResponse) => {
      answers.push(m);
      if (answers.length === 2) resolve();
    }));
    const create = (watchId: bigint, key: string, rangeEnd: string): void => {
      call.write({ request: { $case: 'create', value: { watchId, watch: pb.KvWatchRequest.fromPartial({ key, rangeEnd }) } } });
    };
    create(1n, 'config/', 'config0');
    create(2n, 'app/', 'app0');
    await two;
    expect(answers.find((a) => a.watchId === 1n)).toMatchObject({ canceled: true, cancelReason: expect.stringContaining('permission denied: "alice" (roles: app) may not read kv keys with prefix "config/"') });
    expect(answers.find((a) => a.watchId === 2n)).toMatchObject({ created: true, canceled: false });
  } finally {
    call.cancel();
    raw.close();
  }
  // Through the client, a watch the user may not read fails with PERMISSION_DENIED.
  const watch = clientAs('alice').kvWatch('config/', { prefix: true });
  await expect(watch.next()).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
});

test('admin calls need admin access, on top of the admin token; a certificate without a name is nobody', async () => {
  const alice = clientAs('alice');
  const address = tc.cluster.nodes[0]!.address;
  const aliceWithToken = new ConcordClient({ endpoints: [address], tls: filesOf('alice'), adminToken: testAdminToken, deadlineMs: 5000 });
  clients.push(aliceWithToken);
  await expect(aliceWithToken.setLinkFaults(address, [])).rejects.toMatchObject(denied('may not write admin calls'));
  await expect(alice.ledger(address)).rejects.toMatchObject(denied('may not read admin calls'));
  const operator = new ConcordClient({ endpoints: [address], tls: filesOf('client'), adminToken: testAdminToken, deadlineMs: 5000 });
  clients.push(operator);
  expect((await operator.setLinkFaults(address, [])).faults).toEqual([]);
  // Status and WhoAmI are open to every caller.
  const nameless = clientAs('nameless');
  expect((await nameless.status(address)).authorization).toMatchObject({ policyFile, users: 3, roles: 4, lastError: '' });
  expect(await nameless.whoAmI()).toMatchObject({ authorization: true, user: '', known: false });
  await expect(nameless.get('app/doc')).rejects.toMatchObject(denied("the caller's certificate has no common name"));
  expect(await alice.whoAmI()).toMatchObject({ authorization: true, user: 'alice', known: true, roles: ['app'], permissions: ['documents prefix "app/" readwrite', 'kv prefix "app/" readwrite', 'kv key "config/flags" read'] });
});

test('the policy reloads without a restart; an edit that fails its checks is refused and the policy in force stays', async () => {
  const alice = clientAs('alice');
  const operator = clientAs('client');
  await expect(alice.apply('other/late', [set(['m', 'n'], 1)])).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  fs.writeFileSync(policyFile, JSON.stringify(policy(['app', 'other'])));
  await waitFor(async () => tc.logs.filter((l) => l.includes('access policy reloaded')).length >= 3, 10_000);
  await alice.apply('other/late', [set(['m', 'n'], 1)]);
  // alice may write other/ but not read it (write alone).
  await expect(alice.get('other/late')).rejects.toMatchObject(denied('may not read document "other/late"'));
  // A role nobody defined: refused on every node, alice keeps what she had.
  fs.writeFileSync(policyFile, JSON.stringify(policy(['app', 'ghost'])));
  await waitFor(async () => (await operator.statusAll()).every((r) => r.ok && (r.status.authorization?.lastError ?? '').includes('"ghost"')), 10_000);
  await alice.apply('other/later', [set(['m', 'n'], 1)]);
  const cli = await run(['status'], filesOf('client'));
  expect(cli.stdout).toContain(`access policy: ${policyFile}  3 users, 4 roles  loaded `);
  expect(cli.stdout).toContain('access policy CHANGE REFUSED (the loaded one stays in force): ');
  const me = await run(['whoami'], filesOf('alice'));
  expect(me).toMatchObject({ code: 0 });
  expect(me.stdout).toContain('user: alice\nroles: app, other\npermissions:\n  documents prefix "app/" readwrite\n');
  fs.writeFileSync(policyFile, JSON.stringify(policy(['app'])));
  await waitFor(async () => (await operator.statusAll()).every((r) => r.ok && r.status.authorization?.lastError === ''), 10_000);
  await expect(alice.apply('other/last', [set(['m', 'n'], 1)])).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
});

test('watches opened under a policy end when a reloaded one no longer allows them', async () => {
  const alice = clientAs('alice');
  const operator = clientAs('client');
  const docWatch = alice.watch('app/doc');
  expect((await docWatch.next()).done).toBe(false); // the catch-up: the watch is open
  const raw = new pb.KvServiceClient(tc.cluster.nodes[0]!.address, tlsChannelCredentials(filesOf('alice')));
  const stream = raw.watchStream();
  stream.on('error', () => undefined);
  const answers: pb.KvWatchStreamResponse[] = [];
  stream.on('data', (m: pb.KvWatchStreamResponse) => answers.push(m));
  try {
    stream.write({ request: { $case: 'create', value: { watchId: 5n, watch: pb.KvWatchRequest.fromPartial({ key: 'app/', rangeEnd: 'app0' }) } } });
    await waitFor(async () => answers.some((a) => a.created), 5000);
    const reloads = tc.logs.filter((l) => l.includes('access policy reloaded')).length;
    fs.writeFileSync(policyFile, JSON.stringify(policy([])));
    await waitFor(async () => tc.logs.filter((l) => l.includes('access policy reloaded')).length >= reloads + 3, 10_000);
    await expect(docWatch.next()).rejects.toMatchObject(denied('"alice" (roles: none) may not read document "app/doc"'));
    await waitFor(async () => answers.some((a) => a.canceled), 5000);
    expect(answers.find((a) => a.canceled)).toMatchObject({ watchId: 5n, cancelReason: expect.stringContaining('"alice" (roles: none) may not read kv keys with prefix "app/"') });
    expect(tc.logs.some((l) => /ended \d+ watch(es)? the new policy no longer allows/.test(l))).toBe(true);
    // Why a change was refused is the admins' to read; others learn only that it was.
    fs.writeFileSync(policyFile, JSON.stringify(policy(['ghost'])));
    await waitFor(async () => (await operator.statusAll()).every((r) => r.ok && (r.status.authorization?.lastError ?? '').includes('"ghost"')), 10_000);
    expect((await alice.status(tc.cluster.nodes[0]!.address)).authorization?.lastError).toBe('a change of the policy file was refused (the node\'s log, or status for a caller with admin read, says why)');
  } finally {
    stream.cancel();
    raw.close();
    fs.writeFileSync(policyFile, JSON.stringify(policy(['app'])));
  }
});

test('a node refuses to start with a bad policy, or with one and no TLS, before it touches its data directory', async () => {
  const start = (args: string[]): Promise<{ code: number; stderr: string }> => new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'services/node/main.ts'), '--id', 'x', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), ...args],
      { cwd: repoRoot, timeout: 20_000 }, (error, _stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr }));
  });
  const noTls = await start(['--authz-file', policyFile]);
  expect(noTls.code).not.toBe(0);
  expect(noTls.stderr).toContain('--authz-file needs mutual TLS (--tls-cert, --tls-key, --tls-ca)');
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ roles: { app: { kv: [{ prefix: 'a', access: 'rw' }] } } }));
  const badPolicy = await start([...tlsArgs(filesOf('node')), '--authz-file', bad]);
  expect(badPolicy.code).not.toBe(0);
  expect(badPolicy.stderr).toContain(JSON.stringify(`${bad}: roles.app.kv[0].access must be "read", "write" or "readwrite", not "rw"`).slice(1, -1));
  expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
});

/** The CLI with `files`, against the cluster. */
function run(args: string[], files: TlsFiles): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, CONCORD_ENDPOINTS: tc.cluster.nodes.map((n) => n.address).join(','), CONCORD_CACERT: files.caFile, CONCORD_CERT: files.certFile, CONCORD_KEY: files.keyFile };
  return new Promise((done) => {
    execFile(process.execPath, [path.join(repoRoot, 'clients/cli/concord.js'), ...args], { cwd: repoRoot, env, timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms\n${tc.logs.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
