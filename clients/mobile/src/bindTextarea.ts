import * as Y from 'yjs';

// Two-way binding of a <textarea> to a Y.Text. Local typing becomes the smallest delete+insert
// (common prefix and suffix kept), so concurrent typing elsewhere in the note merges instead of
// being overwritten. Before a remote change the caret is saved as Yjs relative positions
// (anchored to the characters around it, not to an index) and restored after, so text arriving
// above the caret does not shift what you type, and text appended while your caret is at the
// end lands before it: your next keystroke follows it instead of interleaving with it.

const localOrigin = Symbol('textarea');

export function bindTextarea(text: Y.Text, area: HTMLTextAreaElement): () => void {
  const doc = text.doc;
  if (doc === null) throw new Error('bind a Y.Text that belongs to a document');
  area.value = text.toString();
  let saved: [Y.RelativePosition, Y.RelativePosition] | undefined;

  const onInput = (): void => {
    const before = text.toString();
    const after = area.value;
    let start = 0;
    while (start < before.length && start < after.length && before[start] === after[start]) start++;
    let end = 0;
    while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
    doc.transact(() => {
      if (before.length - start - end > 0) text.delete(start, before.length - start - end);
      if (after.length - start - end > 0) text.insert(start, after.slice(start, after.length - end));
    }, localOrigin);
  };
  const beforeChange = (tx: Y.Transaction): void => {
    saved = tx.origin === localOrigin || document.activeElement !== area ? undefined
      : [Y.createRelativePositionFromTypeIndex(text, area.selectionStart), Y.createRelativePositionFromTypeIndex(text, area.selectionEnd)];
  };
  const onChange = (_event: Y.YTextEvent, tx: Y.Transaction): void => {
    if (tx.origin === localOrigin) return;
    area.value = text.toString();
    if (saved === undefined) return;
    const [start, end] = saved.map((rel) => Y.createAbsolutePositionFromRelativePosition(rel, doc)?.index ?? area.value.length);
    area.setSelectionRange(start ?? 0, end ?? 0);
  };
  area.addEventListener('input', onInput);
  doc.on('beforeTransaction', beforeChange);
  text.observe(onChange);
  return () => {
    area.removeEventListener('input', onInput);
    doc.off('beforeTransaction', beforeChange);
    text.unobserve(onChange);
  };
}
