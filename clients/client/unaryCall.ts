import { Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';

// grpc-js unary methods take a callback; this turns one call into a promise with an absolute
// deadline (ms since the epoch) so every attempt of one logical call shares a single budget.

export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response?: Res) => void,
) => ClientUnaryCall;

export function unaryCall<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadline: number,
  { waitForReady = false }: { waitForReady?: boolean } = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    // grpc-js carries wait-for-ready on the metadata, not on the call options.
    method(request, new Metadata({ waitForReady }), { deadline }, (error, response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error('grpc-js returned neither a response nor an error'));
      else resolve(response);
    });
  });
}
