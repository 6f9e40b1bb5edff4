import { DomainError, invalidArgument } from '../errors/DomainError';

/** The error of an operation that finds another kind of thing at a path than it needs. */
export function wrongType(path: readonly string[], found: string, want: string): DomainError {
  return new DomainError('wrong-type', `${path.join('.')} is a ${found}, not a ${want}`);
}

/** Throws unless `count` items from `index` lie within a list or text of `length`. */
export function checkRange(index: number, count: number, length: number, what: string): void {
  if (index + count > length) {
    throw invalidArgument(`${what} range ${index}..${index + count} is outside its length ${length}`);
  }
}
