// A per-key KV register with etcd-like compare-and-set. Each key carries its own revision
// counter (a stand-in for etcd's global revision that keeps keys independent, so histories can be
// partitioned by key). A present key's modRevision is the revision of its last write; an absent
// key's is 0, so `{ modRevision: 0 }` expects the key to be absent, as in etcd.

import { partitionByKey, type Model, type Unknown } from './Model';

export type CasExpectation = { value: string | null } | { modRevision: number };

export type KvInput =
  | { kind: 'get'; key: string }
  | { kind: 'put'; key: string; value: string }
  | { kind: 'delete'; key: string }
  | { kind: 'cas'; key: string; expected: CasExpectation; value: string };

/** Revisions in outputs are optional: when a system does not report them they go unchecked. */
export type KvOutput =
  | { kind: 'get'; value: string | null; modRevision?: number }
  | { kind: 'put'; modRevision?: number }
  | { kind: 'delete'; deleted: boolean }
  | { kind: 'cas'; succeeded: boolean; modRevision?: number };

export interface KeyState {
  readonly value: string | null;
  readonly modRevision: number;
  /** Writes this key has ever seen; the next write gets revision lastRevision + 1. */
  readonly lastRevision: number;
}

export type KvState = Readonly<Record<string, KeyState>>;

const absent: KeyState = { value: null, modRevision: 0, lastRevision: 0 };

/** The sequential specification: the output the input produces in this state, and the state after. */
export function applyKv(state: KvState, input: KvInput): [KvOutput, KvState] {
  const key = state[input.key] ?? absent;
  const write = (value: string | null): KvState => {
    const lastRevision = key.lastRevision + 1;
    return { ...state, [input.key]: { value, modRevision: value === null ? 0 : lastRevision, lastRevision } };
  };
  switch (input.kind) {
    case 'get':
      return [{ kind: 'get', value: key.value, modRevision: key.modRevision }, state];
    case 'put': {
      const next = write(input.value);
      return [{ kind: 'put', modRevision: key.lastRevision + 1 }, next];
    }
    case 'delete':
      return key.value === null ? [{ kind: 'delete', deleted: false }, state] : [{ kind: 'delete', deleted: true }, write(null)];
    case 'cas': {
      const holds = 'value' in input.expected
        ? key.value === input.expected.value
        : key.modRevision === input.expected.modRevision;
      if (!holds) return [{ kind: 'cas', succeeded: false, modRevision: key.modRevision }, state];
      return [{ kind: 'cas', succeeded: true, modRevision: key.lastRevision + 1 }, write(input.value)];
    }
  }
}

function matches(expected: KvOutput, actual: KvOutput): boolean {
  switch (actual.kind) {
    case 'get':
      return expected.kind === 'get' && expected.value === actual.value && revisionMatches(expected.modRevision, actual.modRevision);
    case 'put':
      return expected.kind === 'put' && revisionMatches(expected.modRevision, actual.modRevision);
    case 'delete':
      return expected.kind === 'delete' && expected.deleted === actual.deleted;
    case 'cas':
      return expected.kind === 'cas' && expected.succeeded === actual.succeeded &&
        revisionMatches(expected.modRevision, actual.modRevision);
  }
}

function revisionMatches(expected: number | undefined, actual: number | undefined): boolean {
  return actual === undefined || actual === expected;
}

export const registerModel: Model<KvState, KvInput, KvOutput> = {
  init: () => ({}),
  step(state: KvState, input: KvInput, output: KvOutput | Unknown): readonly [boolean, KvState] {
    const [expected, next] = applyKv(state, input);
    return [output === 'unknown' || matches(expected, output), next];
  },
  equal(a: KvState, b: KvState): boolean {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => {
      const x = a[k];
      const y = b[k];
      return x !== undefined && y !== undefined &&
        x.value === y.value && x.modRevision === y.modRevision && x.lastRevision === y.lastRevision;
    });
  },
  partition: (history) => partitionByKey(history, (input) => input.key),
  describeOperation: (input, output) => `${describeKvInput(input)} -> ${output === 'unknown' ? output : describeKvOutput(output)}`,
  describeState: (state) =>
    Object.entries(state).map(([k, s]) => `${k}=${JSON.stringify(s.value)}@${s.modRevision}`).join(' ') || '(empty)',
};

function describeKvInput(input: KvInput): string {
  switch (input.kind) {
    case 'get':
    case 'delete':
      return `${input.kind}(${input.key})`;
    case 'put':
      return `put(${input.key}, ${JSON.stringify(input.value)})`;
    case 'cas': {
      const e = input.expected;
      const expected = 'value' in e ? `value=${JSON.stringify(e.value)}` : `modRevision=${e.modRevision}`;
      return `cas(${input.key}, ${expected}, ${JSON.stringify(input.value)})`;
    }
  }
}

function describeKvOutput(output: KvOutput): string {
  const rev = 'modRevision' in output && output.modRevision !== undefined ? `@${output.modRevision}` : '';
  switch (output.kind) {
    case 'get':
      return `${JSON.stringify(output.value)}${rev}`;
    case 'put':
      return `ok${rev}`;
    case 'delete':
      return output.deleted ? 'deleted' : 'absent';
    case 'cas':
      return `${output.succeeded ? 'succeeded' : 'failed'}${rev}`;
  }
}
