// Stand-in for @grpc/grpc-js in the browser bundle. The generated stubs (proto/gen) import it
// for their Node client classes; the app uses only their message codecs and method paths, and
// speaks gRPC-Web itself (grpcWebCall.ts), so these never run. The build aliases the package here.

export class Client {
  constructor() {
    throw new Error('@grpc/grpc-js is not available in the browser: use grpcWebCall');
  }
}

export function makeGenericClientConstructor(): typeof Client {
  return Client;
}
