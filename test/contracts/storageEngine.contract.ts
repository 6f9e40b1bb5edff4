import { StorageEngine, prefixEnd } from '../../services/storage/StorageEngine';

/**
 * The acceptance suite every StorageEngine passes: ordering, ranges, atomic batches, and that
 * what a resolved write stored is there after the engine is reopened.
 * `reopen` closes nothing itself; it returns a fresh engine over the same durable state.
 */
export function storageEngineContract(
  name: string,
  make: () => Promise<{ engine: StorageEngine; reopen: () => Promise<StorageEngine>; cleanup: () => Promise<void> }>,
): void {
  describe(`StorageEngine contract: ${name}`, () => {
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
    const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

    test('put, get, delete', async () => {
      const { engine, cleanup } = await make();
      try {
        expect(engine.get('a')).toBeUndefined();
        await engine.write([{ type: 'put', key: 'a', value: bytes('1') }]);
        expect(text(engine.get('a'))).toBe('1');
        await engine.write([{ type: 'del', key: 'a' }]);
        expect(engine.get('a')).toBeUndefined();
      } finally {
        await cleanup();
      }
    });

    test('range is ordered, bounded and limited', async () => {
      const { engine, cleanup } = await make();
      try {
        const keys = ['u:b\u00000002', 'u:a\u00000001', 'u:b\u00000001', 'v:x', 'u:a\u00000010', 't:z'];
        await engine.write(keys.map((k) => ({ type: 'put' as const, key: k, value: bytes(k) })));
        const got = [...engine.range({ gte: 'u:', lt: prefixEnd('u:') })].map((e) => e.key);
        expect(got).toEqual(['u:a\u00000001', 'u:a\u00000010', 'u:b\u00000001', 'u:b\u00000002']);
        const limited = [...engine.range({ gte: 'u:b', lt: prefixEnd('u:b'), limit: 1 })];
        expect(limited.map((e) => text(e.value))).toEqual(['u:b\u00000001']);
        // Keys only: the same keys in the same order (values may be left empty).
        expect([...engine.range({ gte: 'u:', lt: prefixEnd('u:'), keysOnly: true })].map((e) => e.key)).toEqual(got);
        expect([...engine.range({ gte: 'u:b', lt: prefixEnd('u:b'), limit: 1, keysOnly: true })].map((e) => e.key)).toEqual(['u:b\u00000001']);
      } finally {
        await cleanup();
      }
    });

    test('keys order by code point (UTF-8 bytes), characters past U+FFFF included', async () => {
      const { engine, cleanup } = await make();
      try {
        // JavaScript's < puts the surrogate pair of U+1F600 before U+FF01; code point order, after.
        const keys = ['r:a\u{1f600}', 'r:a\uff01', 'r:\u{1f600}', 'r:a', 'r:b'];
        await engine.write(keys.map((k) => ({ type: 'put' as const, key: k, value: bytes(k) })));
        const want = ['r:a', 'r:a\uff01', 'r:a\u{1f600}', 'r:b', 'r:\u{1f600}'];
        expect([...engine.range({ gte: 'r:', lt: prefixEnd('r:') })].map((e) => e.key)).toEqual(want);
        expect([...engine.range({ gte: 'r:a\uff01', lt: 'r:b' })].map((e) => e.key)).toEqual(['r:a\uff01', 'r:a\u{1f600}']);
      } finally {
        await cleanup();
      }
    });

    test('concurrent writes all land (group commit) and survive a reopen', async () => {
      const { engine, reopen, cleanup } = await make();
      try {
        await Promise.all(Array.from({ length: 200 }, (_, i) =>
          engine.write([{ type: 'put', key: `k${String(i).padStart(4, '0')}`, value: bytes(String(i)) }])));
        await engine.write([{ type: 'put', key: 'z1', value: bytes('a') }, { type: 'del', key: 'k0000' }]);
        const again = await reopen();
        expect([...again.range({ gte: 'k', lt: 'l' })]).toHaveLength(199);
        expect(text(again.get('k0199'))).toBe('199');
        expect(text(again.get('z1'))).toBe('a');
        await again.close();
      } finally {
        await cleanup();
      }
    });

    test('writes commit in issue order: when the last resolves, all earlier ones are durable', async () => {
      const { engine, reopen, cleanup } = await make();
      try {
        const writes = Array.from({ length: 50 }, (_, i) => engine.write([{ type: 'put', key: `o${String(i).padStart(3, '0')}`, value: bytes(String(i)) }]));
        await writes[writes.length - 1];
        const again = await reopen();
        expect([...again.range({ gte: 'o', lt: 'p' })]).toHaveLength(50);
        await again.close();
        await Promise.all(writes);
      } finally {
        await cleanup();
      }
    });

    test('values are copies: later mutation of the caller buffer changes nothing', async () => {
      const { engine, cleanup } = await make();
      try {
        const buf = bytes('abc');
        await engine.write([{ type: 'put', key: 'c', value: buf }]);
        buf[0] = 120;
        expect(text(engine.get('c'))).toBe('abc');
      } finally {
        await cleanup();
      }
    });
  });
}
