// Builds histories that are linearizable by construction: a sequential specification executes
// the operations one at a time (their linearization points) while clients call and return around
// those points at random, so intervals overlap. Some operations crash: their outcome is recorded
// as unknown, and if they had not taken effect yet they may still do so later, or never.

import type { Operation } from './Model';
import type { Prng } from '../prng';

export interface SequentialSpec<S, I, O> {
  init: S;
  apply(state: S, input: I): [O, S];
  randomInput(prng: Prng): I;
}

export interface GenerateOptions {
  ops: number;
  /** Clients with an operation in flight at once (the concurrency). */
  clients: number;
  /** Chance that an in-flight operation's client crashes at each of its steps. */
  unknownChance?: number;
}

type Pending<I, O> = { input: I; call: number; done: false } | { input: I; call: number; done: true; output: O };

export function generateHistory<S, I, O>(spec: SequentialSpec<S, I, O>, prng: Prng, opts: GenerateOptions): Operation<I, O>[] {
  const unknownChance = opts.unknownChance ?? 0;
  const slots: { clientId: number; pending: Pending<I, O> | null }[] = [];
  for (let i = 0; i < opts.clients; i++) slots.push({ clientId: i, pending: null });
  let nextClientId = opts.clients;
  const zombies: I[] = [];
  const history: Operation<I, O>[] = [];
  let state = spec.init;
  let issued = 0;
  let time = 0;

  while (issued < opts.ops || slots.some((s) => s.pending !== null)) {
    time += prng.int(2); // Equal timestamps are allowed and must count as concurrent.
    if (zombies.length > 0 && prng.chance(0.05)) {
      const [input] = zombies.splice(prng.int(zombies.length), 1);
      if (input !== undefined) state = spec.apply(state, input)[1];
      continue;
    }
    const slot = prng.pick(slots);
    const pending = slot.pending;
    if (pending === null) {
      if (issued < opts.ops) {
        slot.pending = { input: spec.randomInput(prng), call: time, done: false };
        issued++;
      }
    } else if (prng.chance(unknownChance)) {
      history.push({ clientId: slot.clientId, input: pending.input, call: pending.call, output: 'unknown', return: Infinity });
      if (!pending.done) zombies.push(pending.input);
      slot.clientId = nextClientId++;
      slot.pending = null;
    } else if (!pending.done) {
      const [output, next] = spec.apply(state, pending.input);
      state = next;
      slot.pending = { input: pending.input, call: pending.call, done: true, output };
    } else {
      history.push({ clientId: slot.clientId, input: pending.input, call: pending.call, output: pending.output, return: time });
      slot.pending = null;
    }
  }
  return history;
}
