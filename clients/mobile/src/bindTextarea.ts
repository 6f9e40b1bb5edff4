import * as Y from 'yjs';

// Two-way binding of a <textarea> to a Y.Text. Local typing becomes the smallest delete+insert
// (common prefix and suffix kept), so concurrent typing elsewhere in the note merges instead of
// being overwritten; remote changes rewrite the textarea and move the caret by the change's
// delta, so someone else typing above your caret does not make it jump.

const localOrigin = Symbol('textarea');

export function bindTextarea(text: Y.Text, area: HTMLTextAreaElement): () => void {
  area.value = text.toString();
  const onInput = (): void => {
    const before = text.toString();
    const after = area.value;
    let start = 0;
    while (start < before.length && start < after.length && before[start] === after[start]) start++;
    let end = 0;
    while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
    text.doc?.transact(() => {
      if (before.length - start - end > 0) text.delete(start, before.length - start - end);
      if (after.length - start - end > 0) text.insert(start, after.slice(start, after.length - end));
    }, localOrigin);
  };
  const onChange = (event: Y.YTextEvent, tx: Y.Transaction): void => {
    if (tx.origin === localOrigin) return;
    const focused = document.activeElement === area;
    const [selStart, selEnd] = [area.selectionStart, area.selectionEnd].map((pos) => shift(pos, event.delta));
    area.value = text.toString();
    if (focused) area.setSelectionRange(selStart ?? 0, selEnd ?? 0);
  };
  area.addEventListener('input', onInput);
  text.observe(onChange);
  return () => {
    area.removeEventListener('input', onInput);
    text.unobserve(onChange);
  };
}

/** Where a caret at `pos` ends up after the change `delta` (inserts before it push it right). */
function shift(pos: number, delta: Y.YTextEvent['delta']): number {
  let index = 0;
  let out = pos;
  for (const op of delta) {
    if (index >= pos) break;
    if (op.retain !== undefined) index += op.retain;
    else if (typeof op.insert === 'string') out += op.insert.length; // inserts take no old positions
    else if (op.delete !== undefined) {
      out -= Math.min(op.delete, pos - index);
      index += op.delete;
    }
  }
  return Math.max(0, out);
}
