import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  makeGenericClientConstructor,
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type ClientUnaryCall,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';

// A typed client for the standard grpc.health.v1.Health/Check. The two messages are one field
// each, so they are encoded here with the wire helpers ts-proto output already uses, instead of
// loading health.proto through proto-loader at run time (that costs the CLI start-up time).

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
const servingStatusByNumber: readonly ServingStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export interface HealthCheckRequest {
  service: string;
}
export interface HealthCheckResponse {
  status: ServingStatus;
}

function encodeRequest(request: HealthCheckRequest): Buffer {
  const writer = new BinaryWriter();
  if (request.service !== '') writer.uint32(10).string(request.service);
  return Buffer.from(writer.finish());
}

function decodeResponse(bytes: Buffer): HealthCheckResponse {
  const reader = new BinaryReader(bytes);
  let status: ServingStatus = 'UNKNOWN';
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 8) status = servingStatusByNumber[reader.int32()] ?? 'UNKNOWN';
    else reader.skip(tag & 7);
  }
  return { status };
}

// Only the client half is needed: this process never serves health with this definition.
const clientOnly = (): never => {
  throw new Error('HealthService here is a client definition only');
};

export const HealthService = {
  check: {
    path: '/grpc.health.v1.Health/Check' as const,
    requestStream: false as const,
    responseStream: false as const,
    requestSerialize: encodeRequest,
    requestDeserialize: clientOnly,
    responseSerialize: clientOnly,
    responseDeserialize: decodeResponse,
  },
} as const;

export interface HealthClient extends Client {
  check(
    request: HealthCheckRequest,
    metadata: Metadata,
    options: Partial<CallOptions>,
    callback: (error: ServiceError | null, response?: HealthCheckResponse) => void,
  ): ClientUnaryCall;
}

export const HealthClient = makeGenericClientConstructor(HealthService, 'grpc.health.v1.Health') as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>): HealthClient;
};
