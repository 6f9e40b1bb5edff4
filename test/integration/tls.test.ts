import { credentials, Metadata, status, type ChannelCredentials } from '@grpc/grpc-js';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { AckLevel } from '../../proto/gen/concord/v1/documents';
import { DigestRequest, PeerServiceClient } from '../../proto/gen/concord/v1/peer';
import { RaftServiceClient } from '../../proto/gen/concord/v1/raft';
import { ConcordClient } from '../../clients/client/ConcordClient';
import { tlsChannelCredentials } from '../../clients/client/tlsCredentials';
import type { TlsFiles } from '../../clients/client/tlsFiles';
import { isServiceError } from '../../clients/client/serviceError';
import { startGateway } from '../../services/gateway/startGateway';
import { freeLoopbackPorts } from '../../clients/cli/freeLoopbackPorts';
import { kvStubs } from './kvStubs';
import { nodeStubs } from './nodeStubs';
import { startTestCluster, type TestCluster } from './startTestCluster';

// Mutual TLS on three real node processes: replication, consensus and forwarded KV writes run
// over it; callers without a certificate the cluster's CA signed are refused; bad files stop a
// node before it starts. Certificates: test/fixtures/tls (generate.sh).

const repoRoot = path.resolve(__dirname, '../..');
const fixture = (name: string): string => path.join(repoRoot, 'test/fixtures/tls', name);
const nodeFiles: TlsFiles = { certFile: fixture('node.pem'), keyFile: fixture('node-key.pem'), caFile: fixture('ca.pem') };
const clientFiles: TlsFiles = { certFile: fixture('client.pem'), keyFile: fixture('client-key.pem'), caFile: fixture('ca.pem') };
const tlsArgs = (f: TlsFiles): string[] => ['--tls-cert', f.certFile, '--tls-key', f.keyFile, '--tls-ca', f.caFile];
const read = (name: string): Buffer => fs.readFileSync(fixture(name));

jest.setTimeout(60_000);

let tc: TestCluster;

beforeAll(async () => {
  tc = await startTestCluster(3, tlsArgs(nodeFiles), {}, 'whole', tlsChannelCredentials(clientFiles));
});

afterAll(async () => {
  await tc?.stop();
});

test('a TLS cluster replicates documents, elects a leader and forwards KV writes over mutual TLS', async () => {
  // startTestCluster already saw every replication link reachable and one leader agreed on.
  const [n1, n2, n3] = tc.stubs;
  const w = await n1!.apply({ documentId: 'tls/doc', operations: [{ op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '"v"' } } }], ack: AckLevel.ACK_LEVEL_ALL });
  expect(w.ackedBy).toBe(3);
  expect(JSON.parse((await n3!.get({ documentId: 'tls/doc' })).json)).toEqual({ m: { k: 'v' } });
  // A KV put through a follower is forwarded to the leader, over the nodes' own TLS clients.
  const st = await n2!.status();
  const leader = st.authority?.leaderId ?? '';
  const follower = tc.cluster.nodes.find((n) => n.id !== leader)!;
  const kv = kvStubs(follower.address, tlsChannelCredentials(clientFiles));
  try {
    const put = await kv.put('tls/key', 'value');
    expect(put.header?.leaderId).toBe(leader);
    expect(Buffer.from((await kv.get('tls/key')).kvs[0]!.value).toString()).toBe('value');
  } finally {
    kv.close();
  }
  // The client helper, given the files.
  const client = new ConcordClient({ endpoints: tc.cluster.nodes.map((n) => n.address), tls: clientFiles });
  try {
    expect(JSON.parse((await client.get('tls/doc')).json)).toEqual({ m: { k: 'v' } });
  } finally {
    client.close();
  }
  // Node's warning about IP server names is not printed by the nodes (quietIpServerNameWarning).
  expect(tc.logs.filter((l) => l.includes('DEP0123'))).toEqual([]);
});

/** The error a Status call through `creds` ends with (undefined if it succeeded). */
async function statusError(creds: ChannelCredentials): Promise<{ code: number; details: string } | undefined> {
  const stubs = nodeStubs(tc.cluster.nodes[0]!.address, creds);
  try {
    await stubs.status(3000);
    return undefined;
  } catch (err) {
    return isServiceError(err) ? { code: err.code, details: err.details } : { code: -1, details: String(err) };
  } finally {
    stubs.close();
  }
}

test('callers without a certificate the CA signed, or that do not trust the CA, are refused', async () => {
  const refused = {
    plaintext: await statusError(credentials.createInsecure()),
    noClientCertificate: await statusError(credentials.createSsl(read('ca.pem'))),
    otherCaClient: await statusError(credentials.createSsl(read('ca.pem'), read('rogue-client-key.pem'), read('rogue-client.pem'))),
    serverNotTrusted: await statusError(credentials.createSsl(read('rogue-ca.pem'), read('client-key.pem'), read('client.pem'))),
  };
  for (const [name, err] of Object.entries(refused)) expect([name, err?.code]).toEqual([name, status.UNAVAILABLE]);
  expect(refused.noClientCertificate?.details).toMatch(/certificate required/);
  expect(refused.serverNotTrusted?.details).toMatch(/self-signed certificate in certificate chain/);
  // With the right files the same call works (so the refusals above are the certificates').
  expect(await statusError(tlsChannelCredentials(clientFiles))).toBeUndefined();
  // The client helper names the reason when no node can be reached.
  const client = new ConcordClient({ endpoints: [tc.cluster.nodes[0]!.address], credentials: credentials.createSsl(read('ca.pem')), deadlineMs: 3000 });
  try {
    await expect(client.get('tls/doc')).rejects.toMatchObject({ code: status.UNAVAILABLE, details: expect.stringMatching(/no node reachable .*certificate required/) });
  } finally {
    client.close();
  }
});

test('the services only nodes call refuse a certificate that names no peer, even one the CA signed', async () => {
  const address = tc.cluster.nodes[0]!.address;
  const digest = (creds: ChannelCredentials): Promise<{ code: number; details: string }> => {
    const peer = new PeerServiceClient(address, creds);
    return new Promise<{ code: number; details: string }>((resolve) => {
      peer.digest(DigestRequest.fromPartial({ nodeId: 'n2', level: 0, indexes: [0], hashes: [new Uint8Array(32)] }), new Metadata(), { deadline: Date.now() + 3000 }, (err) => {
        resolve({ code: err?.code ?? status.OK, details: err?.details ?? '' });
      });
    }).finally(() => peer.close());
  };
  // client.pem names no host: a client, not a node.
  expect(await digest(tlsChannelCredentials(clientFiles))).toEqual({
    code: status.PERMISSION_DENIED,
    details: expect.stringContaining("concord.v1.PeerService is for the cluster's nodes: the caller's certificate (CN=concord client) is not a node's (one that allows server authentication and names one of this node's peers, 127.0.0.1, among its subject alternative names)"),
  });
  // node.pem names 127.0.0.1, the peers' host: the handler answers.
  expect(await digest(tlsChannelCredentials(nodeFiles))).toEqual({ code: status.OK, details: '' });
  // The consensus stream too.
  const raft = new RaftServiceClient(address, tlsChannelCredentials(clientFiles));
  try {
    const refused = await new Promise<{ code: number; details: string }>((resolve) => {
      const call = raft.stream((err) => resolve({ code: err?.code ?? status.OK, details: err?.details ?? '' }));
      call.end();
    });
    expect(refused).toMatchObject({ code: status.PERMISSION_DENIED, details: expect.stringContaining('concord.v1.RaftService is for the cluster') });
  } finally {
    raft.close();
  }
});

test('the CLI and the gateway dial a TLS cluster with their own files', async () => {
  const bin = path.join(repoRoot, 'clients/cli/concord.js');
  const run = (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
  const endpoints = tc.cluster.nodes.map((n) => n.address).join(',');
  const env = { CONCORD_ENDPOINTS: endpoints, CONCORD_CACERT: clientFiles.caFile, CONCORD_CERT: clientFiles.certFile, CONCORD_KEY: clientFiles.keyFile };
  const put = await run(['kv', 'put', 'tls/cli', 'from-cli'], env);
  expect(put).toMatchObject({ code: 0 });
  expect(put.stderr).not.toContain('DEP0123');
  const get = await run(['kv', 'get', 'tls/cli', '--cacert', clientFiles.caFile, '--cert', clientFiles.certFile, '--key', clientFiles.keyFile], { CONCORD_ENDPOINTS: endpoints });
  expect(get).toMatchObject({ code: 0, stdout: expect.stringContaining('from-cli') });
  // Status shows the certificate each node serves and when it expires.
  const st = await run(['status'], env);
  expect(st).toMatchObject({ code: 0 });
  expect(st.stdout.match(/^ {2}tls: CN=concord node {2}serial=[0-9A-F]+ {2}expires 2126-\d\d-\d\d \(in \d+ days\)$/gm)).toHaveLength(3);
  const partial = await run(['kv', 'get', 'tls/cli', '--cacert', clientFiles.caFile], { CONCORD_ENDPOINTS: endpoints });
  expect(partial).toMatchObject({ code: 1, stderr: expect.stringContaining('missing --cert (or $CONCORD_CERT) and --key (or $CONCORD_KEY)') });
  const plain = await run(['kv', 'get', 'tls/cli', '--timeout', '3000'], { CONCORD_ENDPOINTS: endpoints });
  expect(plain).toMatchObject({ code: 1, stderr: expect.stringContaining('UNAVAILABLE: no node reachable') });
  expect(plain.stderr).toContain('Failed to connect); if the nodes use TLS, give --cacert, --cert and --key (or CONCORD_CACERT, CONCORD_CERT and CONCORD_KEY)');

  const nodes = tc.cluster.nodes.map((n) => ({ id: n.id, address: n.address }));
  const secure = await startGateway({ nodes, port: 0, tls: clientFiles });
  const insecure = await startGateway({ nodes, port: 0 });
  try {
    expect(secure.balancer.info('').nodes.map((n) => n.healthy)).toEqual([true, true, true]);
    expect(insecure.balancer.info('').nodes.map((n) => n.healthy)).toEqual([false, false, false]);
  } finally {
    await secure.close();
    await insecure.close();
  }
});

test('the gateway serves HTTPS to phones and browsers with its own certificate, and refuses a key that is not the certificate\'s', async () => {
  const nodes = tc.cluster.nodes.map((n) => ({ id: n.id, address: n.address }));
  const gateway = await startGateway({ nodes, port: 0, tls: clientFiles, https: { certFile: nodeFiles.certFile, keyFile: nodeFiles.keyFile } });
  try {
    expect(gateway.url).toBe(`https://127.0.0.1:${gateway.port}/`);
    const get = (url: string, ca?: Buffer): Promise<{ status: number; body: string; authorized: boolean }> => new Promise((resolve, reject) => {
      https.get(url, { ca }, (res) => {
        let body = '';
        const authorized = (res.socket as TLSSocket).authorized;
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body, authorized }));
      }).on('error', reject);
    });
    const info = await get(`${gateway.url}gateway/nodes`, read('ca.pem'));
    expect(info).toMatchObject({ status: 200, authorized: true });
    expect((JSON.parse(info.body) as { nodes: { healthy: boolean }[] }).nodes.map((n) => n.healthy)).toEqual([true, true, true]);
    // A browser that does not trust the CA refuses it; plain HTTP gets no answer it can read.
    await expect(get(`${gateway.url}gateway/nodes`)).rejects.toThrow(/unable to verify the first certificate/);
    await expect(fetch(`http://127.0.0.1:${gateway.port}/gateway/nodes`)).rejects.toThrow();
  } finally {
    // A connection that never starts its TLS handshake does not hold the close up (it held
    // close() for Node's two-minute handshake timeout).
    const idle = net.connect(gateway.port, '127.0.0.1');
    await new Promise((r) => idle.once('connect', r));
    const closing = Date.now();
    await gateway.close();
    expect(Date.now() - closing).toBeLessThan(5000);
    idle.destroy();
  }
  await expect(startGateway({ nodes, port: 0, https: { certFile: nodeFiles.certFile, keyFile: clientFiles.keyFile } }))
    .rejects.toThrow(`the key in ${clientFiles.keyFile} does not belong to the certificate in ${nodeFiles.certFile}`);
  await expect(startGateway({ nodes, port: 0, https: { certFile: clientFiles.certFile, keyFile: clientFiles.keyFile } }))
    .rejects.toThrow('does not allow serverAuth (extended key usage): browsers are served it');
});

test('bad TLS files stop a node before it touches its data directory, naming the file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-tls-'));
  try {
    const start = (args: string[]): Promise<{ code: number; stderr: string }> => new Promise((done) => {
      execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'services/node/main.ts'), '--id', 'x', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), ...args],
        { cwd: repoRoot, timeout: 20_000 }, (error, _stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr }));
    });
    const wrongKey = await start(tlsArgs({ ...nodeFiles, keyFile: fixture('client-key.pem') }));
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr).toContain(`the key in ${fixture('client-key.pem')} does not belong to the certificate in ${nodeFiles.certFile}`);
    const otherCa = await start(tlsArgs({ ...nodeFiles, caFile: fixture('rogue-ca.pem') }));
    expect(otherCa.stderr).toContain(`is not signed by a CA in ${fixture('rogue-ca.pem')}`);
    const missing = await start(['--tls-cert', nodeFiles.certFile]);
    expect(missing.stderr).toContain('TLS needs --tls-cert, --tls-key and --tls-ca together; missing --tls-key and --tls-ca');
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

interface SpawnedNode {
  readonly address: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** One node process (no peers) with `args`, once it serves; stopped by PID. */
async function spawnNode(dataDir: string, args: string[]): Promise<SpawnedNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'services/node/main.ts'), '--id', 'x', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], { cwd: repoRoot });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"address":"([^"]+)"/.exec(out);
        if (m !== null) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`node exited (${code}): ${stderr}`)));
    });
    return { address, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

test('a node whose certificate does not name its address warns at start, and clients refuse it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-tls-'));
  const other: TlsFiles = { certFile: fixture('other-host.pem'), keyFile: fixture('other-host-key.pem'), caFile: fixture('ca.pem') };
  const node = await spawnNode(dir, tlsArgs(other)).catch((err: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    expect(node.stderr()).toContain(`the certificate in ${other.certFile} (DNS:other.example) does not name 127.0.0.1, the host this node listens on`);
    const stubs = nodeStubs(node.address, tlsChannelCredentials(clientFiles));
    try {
      await expect(stubs.status(3000)).rejects.toMatchObject({ code: status.UNAVAILABLE, details: expect.stringContaining("IP: 127.0.0.1 is not in the cert's list") });
    } finally {
      stubs.close();
    }
  } finally {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The serial number of the certificate a TLS server presents to a new connection. */
function servedSerial(address: string): Promise<string> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: read('ca.pem'), cert: read('client.pem'), key: read('client-key.pem'), ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

test('rotated TLS files take effect for new connections without a restart; a bad set is refused and the last good one kept', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-tls-'));
  const live: TlsFiles = { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), caFile: path.join(dir, 'ca.pem') };
  fs.copyFileSync(nodeFiles.certFile, live.certFile);
  fs.copyFileSync(nodeFiles.keyFile, live.keyFile);
  fs.copyFileSync(nodeFiles.caFile, live.caFile);
  const serial = (name: string): string => new X509Certificate(read(name)).serialNumber;
  const [metricsPort] = await freeLoopbackPorts(1);
  const node = await spawnNode(path.join(dir, 'data'), [...tlsArgs(live), '--tls-reload-interval-ms', '100', '--metrics-port', String(metricsPort)]).catch((err: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const stubs = nodeStubs(node.address, tlsChannelCredentials(clientFiles));
  // Files are replaced as an operator should: written aside, then renamed over the old ones.
  const replace = (name: string, target: string): void => {
    fs.copyFileSync(fixture(name), `${target}.next`);
    fs.renameSync(`${target}.next`, target);
  };
  const fresh: ReturnType<typeof nodeStubs>[] = [];
  try {
    const first = await stubs.status(3000);
    expect(first.tls).toMatchObject({ subject: 'CN=concord node', serial: serial('node.pem'), subjectAltNames: 'IP Address:127.0.0.1, DNS:localhost' });
    expect(await servedSerial(node.address)).toBe(serial('node.pem'));
    // Prometheus: the served certificate's expiry, in Unix seconds.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const notAfter = /^concord_tls_certificate_not_after(?:\{[^}]*\})? (\S+)$/m.exec(metrics)?.[1];
    expect(Number(notAfter)).toBe(Date.parse(new X509Certificate(read('node.pem')).validTo) / 1000);
    // Half a rotation (the certificate without its key): refused, the old pair still served.
    replace('node2.pem', live.certFile);
    await waitFor(() => node.stderr().includes(`the key in ${live.keyFile} does not belong to the certificate in ${live.certFile}`), 10_000);
    expect(node.stderr()).toContain('TLS files changed but were not reloaded (still serving serial');
    expect(await servedSerial(node.address)).toBe(serial('node.pem'));
    // The key follows: the new pair is served to new connections.
    replace('node2-key.pem', live.keyFile);
    await waitFor(async () => (await servedSerial(node.address)) === serial('node2.pem'), 10_000);
    expect(node.stderr()).toContain(`TLS files reloaded: now serving CN=concord node 2 (serial ${serial('node2.pem')}`);
    // New gRPC connections: a client's certificate is still required, and calls go on.
    const withCert = nodeStubs(node.address, tlsChannelCredentials(clientFiles));
    const withoutCert = nodeStubs(node.address, credentials.createSsl(read('ca.pem')));
    fresh.push(withCert, withoutCert);
    expect((await withCert.status(3000)).tls?.serial).toBe(serial('node2.pem'));
    await expect(withoutCert.status(3000)).rejects.toMatchObject({ code: status.UNAVAILABLE, details: expect.stringContaining('certificate required') });
  } finally {
    fresh.forEach((s) => s.close());
    stubs.close();
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
