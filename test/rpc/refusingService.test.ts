// refusingService answers every kind of method (unary, server, client and bidirectional
// streaming) with the refusal's status, details and metadata, over a real server on loopback.
import * as grpc from '@grpc/grpc-js';
import { DomainError } from '../../services/core/errors/DomainError';
import { refusingService } from '../../services/rpc/refusingService';

const id = (b: Buffer): Buffer => b;
const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/test.Refused/${name}`, requestStream, responseStream, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
});
const definition = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
};

let server: grpc.Server;
type RefusedClient = grpc.Client & {
  unary(req: Buffer, callback: (err: grpc.ServiceError | null) => void): grpc.ClientUnaryCall;
  serverStream(req: Buffer): grpc.ClientReadableStream<Buffer>;
  clientStream(callback: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<Buffer>;
  bidi(): grpc.ClientDuplexStream<Buffer, Buffer>;
};
let client: RefusedClient;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(definition, refusingService(definition, () => new DomainError('read-only', 'node r refuses this', { voters: 'a,b,c' })));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const Client = grpc.makeGenericClientConstructor(definition, 'test.Refused');
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as RefusedClient;
});

afterAll(() => {
  client.close();
  server.forceShutdown();
});

const expectRefusal = (err: grpc.ServiceError | null | undefined): void => {
  expect({ code: err?.code, details: err?.details, voters: err?.metadata.get('concord-voters') }).toEqual({ code: grpc.status.FAILED_PRECONDITION, details: 'node r refuses this', voters: ['a,b,c'] });
};
const streamError = (call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>): Promise<grpc.ServiceError> =>
  new Promise((resolve) => call.on('error', resolve));

test('unary', async () => {
  expectRefusal(await new Promise<grpc.ServiceError | null>((resolve) => client.unary(Buffer.from('x'), (err) => resolve(err))));
});

test('server streaming', async () => {
  expectRefusal(await streamError(client.serverStream(Buffer.from('x'))));
});

test('client streaming', async () => {
  const err = await new Promise<grpc.ServiceError | null>((resolve) => {
    const call = client.clientStream((e) => resolve(e));
    call.write(Buffer.from('x'));
    call.end();
  });
  expectRefusal(err);
});

test('bidirectional streaming', async () => {
  const call = client.bidi();
  call.write(Buffer.from('x'));
  expectRefusal(await streamError(call));
});
