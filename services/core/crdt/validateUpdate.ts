import * as Y from 'yjs';
import { DomainError, invalidArgument } from '../errors/DomainError';

export const updateBytesMax = 4 << 20;

/**
 * Checks that `update` is a well-formed Yjs v1 update before any document sees it: Yjs applies
 * a malformed update partially before it throws, which would leave a replica in a state no
 * other replica has.
 */
export function validateUpdate(update: Uint8Array): void {
  checkUpdateSize(update);
  try {
    Y.decodeUpdate(update);
  } catch (err) {
    throw invalidArgument(`malformed Yjs update: ${(err as Error).message}`);
  }
}

/** The size rules alone: not empty, at most `updateBytesMax`. */
export function checkUpdateSize(update: Uint8Array): void {
  if (update.byteLength === 0) throw invalidArgument('update is empty');
  if (update.byteLength > updateBytesMax) {
    throw new DomainError('too-large', `update is ${update.byteLength} bytes; at most ${updateBytesMax} are allowed`);
  }
}
