import * as Y from 'yjs';

/** A text made by `edits` random edits (4 inserts of 2 characters to 1 delete), from a fixed seed. */
export function editedText(edits: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = 1;
  const text = doc.getText('t');
  let seed = 7;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < edits; i++) {
    if (i % 5 === 4 && text.length > 2) text.delete(next(text.length - 1), 1);
    else text.insert(next(text.length + 1), 'ab');
  }
  return Y.encodeStateAsUpdate(doc);
}
