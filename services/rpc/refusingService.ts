import { sendUnaryData, ServerDuplexStream, ServerReadableStream, ServiceDefinition, ServiceError, UntypedServiceImplementation } from '@grpc/grpc-js';
import { DomainError } from '../core/errors/DomainError';
import { toServiceError } from './errorTable';
import { serverStream, unary } from './handlers';

/**
 * An implementation of every method of `definition` that fails with `refusal()`, through the
 * error table: a node that does not serve a service (a replica asked for the authoritative KV
 * API) answers with a status that says why and where to go, not UNIMPLEMENTED.
 */
export function refusingService(definition: ServiceDefinition, refusal: () => DomainError): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  const fail = async (): Promise<never> => {
    throw refusal();
  };
  for (const [name, method] of Object.entries(definition)) {
    if (!method.requestStream) impl[name] = method.responseStream ? serverStream(fail) : unary(fail);
    else if (!method.responseStream) impl[name] = (_call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => callback(toServiceError(refusal()) as ServiceError);
    else impl[name] = (call: ServerDuplexStream<unknown, unknown>) => call.emit('error', toServiceError(refusal()));
  }
  return impl;
}
