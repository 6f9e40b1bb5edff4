/**
 * What the clients of a run asked for, and which requests were acknowledged. A write is one
 * applyOps call or one raw Yjs update; it is acknowledged when its promise resolved (the
 * store's promise that the change is durable there). Every written value is unique in a run,
 * so the checkers can tell from the final document which writes took effect.
 */
export type Effect =
  | { readonly kind: 'insert'; readonly field: SequenceField; readonly token: string }
  | { readonly kind: 'delete'; readonly field: SequenceField; readonly token: string }
  | { readonly kind: 'set'; readonly key: string; readonly value: string }
  | { readonly kind: 'unset'; readonly key: string }
  | { readonly kind: 'add'; readonly delta: number };

/** Top-level names by kind: every document holds one of each. */
export const fields = { text: 't', list: 'l', map: 'm', counter: 'c' } as const;
export type SequenceField = typeof fields.text | typeof fields.list;
/** Map keys are few, so concurrent writers often collide on one. */
export const mapKeys: readonly string[] = ['a', 'b', 'c'];

export interface Write {
  readonly seq: number;
  readonly docId: string;
  readonly replicaId: string;
  readonly via: 'ops' | 'raw';
  readonly issuedAtTicks: number;
  readonly effects: readonly Effect[];
  acked: boolean;
  /** The version token the node returns with the ack (DocumentNode: the document's snapshot then). */
  version?: Uint8Array;
}

/** Text tokens are single UTF-16 code units from the CJK block, so an insert never splits one. */
const textTokenBase = 0x4e00;
const textTokensMax = 0x5000;

export class OpHistory {
  readonly writes: Write[] = [];
  private tokens = 0;

  textToken(): string {
    if (this.tokens >= textTokensMax) throw new Error('out of text tokens');
    return String.fromCharCode(textTokenBase + this.tokens++);
  }

  listToken(): string {
    return `L${this.tokens++}`;
  }

  mapValue(): string {
    return `v${this.tokens++}`;
  }

  record(docId: string, replicaId: string, via: Write['via'], issuedAtTicks: number, effects: readonly Effect[]): Write {
    const w: Write = { seq: this.writes.length, docId, replicaId, via, issuedAtTicks, effects, acked: false };
    this.writes.push(w);
    return w;
  }

  docIds(): string[] {
    return [...new Set(this.writes.map((w) => w.docId))].sort();
  }

  /** Every effect on `docId`, with whether its write was acknowledged. */
  effectsOf(docId: string): { effect: Effect; acked: boolean; write: Write }[] {
    const out: { effect: Effect; acked: boolean; write: Write }[] = [];
    for (const w of this.writes) {
      if (w.docId !== docId) continue;
      for (const effect of w.effects) out.push({ effect, acked: w.acked, write: w });
    }
    return out;
  }

  get ackedCount(): number {
    return this.writes.filter((w) => w.acked).length;
  }
}

/** One effect as a short trace token: `+t:x`, `-l:L3`, `m.a=v7`, `-m.a`, `c+=2`. */
export function describeEffect(e: Effect): string {
  switch (e.kind) {
    case 'insert':
      return `+${e.field}:${e.token}`;
    case 'delete':
      return `-${e.field}:${e.token}`;
    case 'set':
      return `m.${e.key}=${e.value}`;
    case 'unset':
      return `-m.${e.key}`;
    case 'add':
      return `c+=${e.delta}`;
  }
}
