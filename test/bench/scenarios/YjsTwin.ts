import { performance } from 'node:perf_hooks';
import * as Y from 'yjs';

/** One side's writes: `updates` map sets spread over `docs` documents (key `<side><n>`). */
export interface Divergence {
  readonly docs: number;
  readonly updates: number;
  readonly valueOf: (side: string, n: number) => string;
}

/**
 * The same split-brain divergence reproduced in-process with Yjs: per document two replicas
 * share a base state, each side applies its map sets one transaction per update (as the
 * node's typed writes do), then they merge the way anti-entropy does: exchange state vectors,
 * each side applies the other's diff. Its time is the floor a distributed heal is judged by;
 * the recorded update sizes tell the bytes a heal must move at least.
 */
export class YjsTwin {
  readonly rawBytes = { a: 0, b: 0 };
  private readonly pairs: { a: Y.Doc; b: Y.Doc }[] = [];

  constructor(private readonly d: Divergence) {
    for (let j = 0; j < d.docs; j++) {
      const base = new Y.Doc();
      base.getMap('m').set('base', 'common state');
      const init = Y.encodeStateAsUpdate(base);
      const a = new Y.Doc();
      const b = new Y.Doc();
      Y.applyUpdate(a, init);
      Y.applyUpdate(b, init);
      this.pairs.push({ a, b });
    }
    for (const side of ['a', 'b'] as const) {
      for (let n = 0; n < d.updates; n++) {
        const doc = (this.pairs[n % d.docs] as { a: Y.Doc; b: Y.Doc })[side];
        const count = (u: Uint8Array): void => {
          this.rawBytes[side] += u.byteLength;
        };
        doc.once('update', count);
        doc.getMap('m').set(`${side}${n}`, d.valueOf(side, n));
      }
    }
  }

  /** Merges every pair; returns the time taken and the diff bytes exchanged. */
  merge(): { timeMs: number; diffBytes: number } {
    const t0 = performance.now();
    let diffBytes = 0;
    for (const { a, b } of this.pairs) {
      const svA = Y.encodeStateVector(a);
      const svB = Y.encodeStateVector(b);
      const forB = Y.encodeStateAsUpdate(a, svB);
      const forA = Y.encodeStateAsUpdate(b, svA);
      Y.applyUpdate(b, forB);
      Y.applyUpdate(a, forA);
      diffBytes += forA.byteLength + forB.byteLength + svA.byteLength + svB.byteLength;
    }
    return { timeMs: performance.now() - t0, diffBytes };
  }

  /** Keys the merged document `j` must hold: the base key and both sides' keys for it. */
  keysIn(j: number): number {
    const perSide = Math.floor(this.d.updates / this.d.docs) + (j < this.d.updates % this.d.docs ? 1 : 0);
    return 1 + 2 * perSide;
  }
}
