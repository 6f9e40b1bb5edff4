import { CallOptions, ClientUnaryCall, Metadata, ServiceError } from '@grpc/grpc-js';

/** The full overload of a grpc-js generated unary method (the last one, which TS infers from). */
export type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

/** Promise form of a bound generated unary method, with a deadline. */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  req: Req,
  deadlineMs: number,
  metadata: Metadata = new Metadata(),
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method(req, metadata, { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => {
      if (err !== null) reject(err);
      else resolve(res);
    });
  });
}
