// A generic gRPC client nobody here wrote (`buf curl`, using server reflection) lists the
// services of a node, calls a read, and sees the standard health check.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { startTestCluster, TestCluster } from './startTestCluster';

const run = promisify(execFile);
const buf = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'buf');
let tc: TestCluster;

beforeAll(async () => {
  tc = await startTestCluster(1);
  await tc.stubs[0]!.apply({ documentId: 'generic/doc', operations: [{ op: { $case: 'mapSet', value: { path: ['m', 'k'], valueJson: '"v"' } } }] });
}, 60_000);

afterAll(async () => {
  await tc?.stop();
});

const curl = async (...args: string[]): Promise<string> =>
  (await run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { timeout: 30_000 })).stdout;

test('buf curl lists the services through reflection', async () => {
  const out = await curl('--list-services', `http://${tc.cluster.nodes[0]!.address}`);
  expect(out.split('\n')).toEqual(expect.arrayContaining([
    'concord.v1.DocumentService', 'concord.v1.AdminService', 'concord.v1.PeerService', 'grpc.health.v1.Health',
  ]));
});

test('buf curl calls a read and the health check', async () => {
  const got = JSON.parse(await curl('-d', '{"document_id":"generic/doc"}', `http://${tc.cluster.nodes[0]!.address}/concord.v1.DocumentService/Get`)) as { json: string };
  expect(JSON.parse(got.json)).toEqual({ m: { k: 'v' } });
  // The health service is the standard one; buf reads its schema from the proto file.
  const schema = path.dirname(healthProtoPath);
  const health = JSON.parse(await curl('--schema', schema, '-d', '{}', `http://${tc.cluster.nodes[0]!.address}/grpc.health.v1.Health/Check`)) as { status: string };
  expect(health.status).toBe('SERVING');
});
