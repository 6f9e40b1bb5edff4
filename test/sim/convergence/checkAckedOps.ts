import { Effect, fields, OpHistory, SequenceField } from './OpHistory';

type Entry = { readonly effect: Effect; readonly acked: boolean };

/**
 * No acknowledged write lost, nothing invented: checks the converged JSON of each document
 * against the history. Unacknowledged writes may or may not have taken effect (a crash can
 * lose them, a replica may have passed them on first), so they only widen what is allowed.
 * - text and list: every token present was inserted once; an acked insert that no write ever
 *   tried to delete is present; a token an acked write deleted is absent.
 * - map: a value present was written for that key; a key with an acked set and no delete is
 *   present, with that very value if it was the key's only write.
 * - counter: the value is the sum of the acked deltas plus the sum of some unacked ones.
 */
export function checkAckedOps(history: OpHistory, finalJson: (docId: string) => Record<string, unknown>): string[] {
  const findings: string[] = [];
  for (const docId of history.docIds()) {
    const json = finalJson(docId);
    const entries = history.effectsOf(docId);
    const report = (msg: string): void => void findings.push(`${docId}: ${msg}`);
    const text = json[fields.text];
    checkSequence(fields.text, typeof text === 'string' ? [...text] : [], entries, report);
    const list = json[fields.list];
    checkSequence(fields.list, Array.isArray(list) ? list.map(String) : [], entries, report);
    const map = json[fields.map];
    checkMap(typeof map === 'object' && map !== null ? (map as Record<string, unknown>) : {}, entries, report);
    checkCounter(json[fields.counter], entries, report);
  }
  return findings;
}

function checkSequence(field: SequenceField, present: string[], entries: readonly Entry[], report: (m: string) => void): void {
  const inserted = new Map<string, boolean>();
  const deleteTried = new Set<string>();
  const deleteAcked = new Set<string>();
  for (const { effect: e, acked } of entries) {
    if ((e.kind !== 'insert' && e.kind !== 'delete') || e.field !== field) continue;
    if (e.kind === 'insert') inserted.set(e.token, acked);
    else {
      deleteTried.add(e.token);
      if (acked) deleteAcked.add(e.token);
    }
  }
  const seen = new Set<string>();
  for (const token of present) {
    if (!inserted.has(token)) report(`${field}: ${token} was never inserted`);
    if (seen.has(token)) report(`${field}: ${token} appears twice`);
    if (deleteAcked.has(token)) report(`${field}: ${token} is back after an acknowledged delete`);
    seen.add(token);
  }
  for (const [token, acked] of inserted) {
    if (acked && !deleteTried.has(token) && !seen.has(token)) report(`${field}: acknowledged insert ${token} is lost`);
  }
}

function checkMap(map: Record<string, unknown>, entries: readonly Entry[], report: (m: string) => void): void {
  const byKey = new Map<string, { values: string[]; acked: string[]; unsetTried: boolean }>();
  for (const { effect: e, acked } of entries) {
    if (e.kind !== 'set' && e.kind !== 'unset') continue;
    const k = byKey.get(e.key) ?? { values: [], acked: [], unsetTried: false };
    byKey.set(e.key, k);
    if (e.kind === 'unset') k.unsetTried = true;
    else {
      k.values.push(e.value);
      if (acked) k.acked.push(e.value);
    }
  }
  for (const [key, value] of Object.entries(map)) {
    if (!(byKey.get(key)?.values ?? []).includes(String(value))) report(`map: ${key}=${String(value)} was never written`);
  }
  for (const [key, k] of byKey) {
    if (k.unsetTried || k.acked.length === 0) continue;
    if (!(key in map)) report(`map: ${key} is missing; acknowledged values ${k.acked.join(',')}`);
    else if (k.values.length === 1 && map[key] !== k.acked[0]) report(`map: ${key}=${String(map[key])}, its only write was ${k.acked[0]}`);
  }
}

function checkCounter(value: unknown, entries: readonly Entry[], report: (m: string) => void): void {
  let ackedSum = 0;
  let reachable = new Set<number>([0]);
  for (const { effect: e, acked } of entries) {
    if (e.kind !== 'add') continue;
    if (acked) ackedSum += e.delta;
    else reachable = new Set([...reachable, ...[...reachable].map((s) => s + e.delta)]);
  }
  const got = typeof value === 'number' ? value : 0;
  if (!reachable.has(got - ackedSum)) report(`counter is ${got}; acknowledged adds sum to ${ackedSum}, unacknowledged can add ${[...reachable].sort((a, b) => a - b).join('|')}`);
}
