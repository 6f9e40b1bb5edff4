import {
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
} from '@grpc/grpc-js';
import { toServiceError } from './errorTable';

/** Milliseconds left before the call's deadline, or `fallbackMs` when it has none. */
export function remainingMs(call: { getDeadline(): Date | number }, fallbackMs: number): number {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(at) || at <= 0) return fallbackMs;
  return at - Date.now();
}

/** Wraps an async unary handler: results go to the callback, every error through the table. */
export function unary<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err) as ServiceError),
    );
  };
}

/** Wraps an async server-streaming handler: a thrown error ends the stream with its status. */
export function serverStream<Req, Res>(fn: (req: Req, call: ServerWritableStream<Req, Res>) => Promise<void>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    fn(call.request, call).then(
      () => call.end(),
      (err: unknown) => {
        call.emit('error', toServiceError(err));
      },
    );
  };
}
