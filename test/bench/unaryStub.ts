import { Client, Metadata } from '@grpc/grpc-js';

/**
 * A promise-returning unary call on a plain grpc-js client, shaped like the product's
 * callUnary (fresh metadata and a deadline per call), so the etcd and echo stubs cost the
 * client what Concord's generated stubs cost it and only the server differs.
 */
export function unaryStub<Req, Res>(
  client: Client,
  path: string,
  serialize: (req: Req) => Buffer,
  deserialize: (bytes: Buffer) => Res,
): (req: Req, deadlineMs?: number) => Promise<Res> {
  return (req, deadlineMs = 5000) =>
    new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(path, serialize, deserialize, req, new Metadata(), { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => {
        if (err !== null || res === undefined) reject(err ?? new Error(`${path}: empty response`));
        else resolve(res);
      });
    });
}
