// A failed gRPC-Web call as the app sees it: the status code, the node's message and its
// trailers (Concord puts details such as `concord-reachable-voters` there), and which node answered.

export const grpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const names = new Map<number, string>(Object.entries(grpcStatus).map(([name, code]) => [code, name]));

export function statusName(code: number): string {
  return names.get(code) ?? `CODE_${code}`;
}

export class GrpcWebError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly trailers: ReadonlyMap<string, string>,
    readonly servedBy: string,
  ) {
    super(`${statusName(code)}: ${details}`);
    this.name = 'GrpcWebError';
  }
}

/** HTTP failures from the gateway itself, mapped as the gRPC-Web spec suggests. */
export function statusOfHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return grpcStatus.INTERNAL;
    case 401:
      return grpcStatus.UNAUTHENTICATED;
    case 403:
      return grpcStatus.PERMISSION_DENIED;
    case 404:
      return grpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return grpcStatus.UNAVAILABLE;
    default:
      return grpcStatus.UNKNOWN;
  }
}
