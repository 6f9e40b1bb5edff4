import * as Y from 'yjs';
import { DomainError, invalidArgument } from '../errors/DomainError';

/** A client's update at most. */
export const updateBytesMax = 4 << 20;
/**
 * An update between nodes at most: a diff of a whole document (anti-entropy, catch-up) may be
 * far larger than any one client update; the node-to-node message limit bounds it.
 */
export const peerUpdateBytesMax = 64 << 20;

/**
 * Checks that `update` is a well-formed Yjs v1 update before any document sees it: Yjs applies
 * a malformed update partially before it throws, which would leave a replica in a state no
 * other replica has.
 */
export function validateUpdate(update: Uint8Array, max = updateBytesMax): void {
  checkUpdateSize(update, max);
  try {
    Y.decodeUpdate(update);
  } catch (err) {
    throw invalidArgument(`malformed Yjs update: ${(err as Error).message}`);
  }
}

/** The size rules alone: not empty, at most `max`. */
export function checkUpdateSize(update: Uint8Array, max = updateBytesMax): void {
  if (update.byteLength === 0) throw invalidArgument('update is empty');
  if (update.byteLength > max) {
    throw new DomainError('too-large', `update is ${update.byteLength} bytes; at most ${max} are allowed`);
  }
}
