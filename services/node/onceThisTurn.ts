/**
 * Returns a function that schedules `fn` to run once at the end of the current event-loop turn,
 * however often it is called before then: what is queued in one turn (concurrent writes, answers
 * completing together) goes out together.
 */
export function onceThisTurn(fn: () => void): () => void {
  let due = false;
  return () => {
    if (due) return;
    due = true;
    setImmediate(() => {
      due = false;
      fn();
    });
  };
}
