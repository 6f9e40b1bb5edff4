import { invalidArgument } from '../errors/DomainError';

/** Document ids are printable UTF-8 strings of 1..256 bytes; `/` is the usual namespace separator. */
export type DocumentId = string & { readonly __brand: 'DocumentId' };

export const documentIdBytesMax = 256;

/** A UTF-16 code unit takes at most 3 bytes of UTF-8: ids this short need no counting. */
const uncountedLengthMax = Math.floor(documentIdBytesMax / 3);

/** Every write parses its document id (and every replicated update too): no allocation here. */
export function parseDocumentId(raw: string): DocumentId {
  if (raw.length === 0) throw invalidArgument('document id is empty');
  if (raw.length > uncountedLengthMax) {
    const bytes = Buffer.byteLength(raw, 'utf8');
    if (bytes > documentIdBytesMax) throw invalidArgument(`document id is ${bytes} bytes; at most ${documentIdBytesMax} are allowed`);
  }
  // Control characters would make ids unprintable in logs and ambiguous in storage keys.
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw invalidArgument('document id contains control characters');
  return raw as DocumentId;
}
