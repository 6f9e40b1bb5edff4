import { Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';

// grpc-js unary methods take a callback; this turns one call into a promise with an absolute
// deadline (ms since the epoch) so every attempt of one logical call shares a single budget.
// `headers` become call metadata (the admin credential of guarded admin calls).

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
  { waitForReady = false, headers = {} }: { waitForReady?: boolean; headers?: Readonly<Record<string, string>> } = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    // grpc-js carries wait-for-ready on the metadata, not on the call options.
    const metadata = new Metadata({ waitForReady });
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    method(request, metadata, { deadline }, (error, response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error('grpc-js returned neither a response nor an error'));
      else resolve(response);
    });
  });
}
