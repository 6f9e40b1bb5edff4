/**
 * Drops Node's DEP0123 warning ("Setting the TLS ServerName to an IP address is not permitted by
 * RFC 6066"), and only it. grpc-js sets the TLS server name to the host it dials, an IP address
 * for nodes named by address (grpc/grpc-node#1919). Node 20 still sends it (servers ignore an
 * IP address there) and checks the certificate against the address all the same, so the
 * warning, printed once per process on the first TLS connection, tells an operator nothing. Called by the node, CLI and gateway entry
 * points, never by the client library (it is the application's process).
 */
export function quietIpServerNameWarning(proc: Pick<NodeJS.Process, 'emitWarning'> = process): void {
  const emit = proc.emitWarning.bind(proc) as (...args: unknown[]) => void;
  proc.emitWarning = ((warning: string | Error, ...rest: unknown[]): void => {
    const options = rest[0];
    const code = typeof options === 'object' && options !== null ? (options as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
