import Module, { createRequire } from 'node:module';

/**
 * Packages whose ES module build a node process uses in place of the CommonJS one: Yjs, and
 * the lib0 encoder it is built on (the node's own struct encoder writes with it).
 *
 * Yjs's CommonJS build reaches every lib0 function through a namespace object of getters
 * (Rollup's interop), one shared getter body for all names: each encode or decode step pays a
 * dictionary lookup, a getter call and a megamorphic keyed load. Profiles of a loaded cluster
 * put a fifth of Yjs's time there; the ES module build imports lib0 directly.
 */
export const esmPreferred = ['yjs', 'lib0/encoding'] as const;

/** What a package resolves to under require(), and how it was loaded in this process. */
export interface PreferredBuild {
  readonly specifier: string;
  readonly resolved: string;
  readonly loaded: 'esm' | 'cjs-already-loaded';
}

/**
 * Loads the ES module build of each package in `specifiers` and registers it as the module
 * its `require()` resolves to, so every later `require` (TypeScript's compiled imports) in
 * this process gets that one instance: one Yjs per process, as Yjs requires. Must run before
 * anything requires them; a package already loaded as CommonJS is left as it is (two copies
 * of Yjs would break its constructor checks) and reported. Jest's module registry does not
 * load ES modules, so only real processes call this (the node's entry point).
 */
export async function preferEsmBuilds(specifiers: readonly string[] = esmPreferred, from: string = __filename): Promise<PreferredBuild[]> {
  const req = createRequire(from);
  const out: PreferredBuild[] = [];
  for (const specifier of specifiers) {
    const resolved = req.resolve(specifier);
    if (req.cache[resolved] !== undefined) {
      out.push({ specifier, resolved, loaded: 'cjs-already-loaded' });
      continue;
    }
    const namespace: unknown = await import(specifier);
    const m = new Module(resolved);
    m.filename = resolved;
    m.exports = namespace;
    m.loaded = true;
    req.cache[resolved] = m;
    out.push({ specifier, resolved, loaded: 'esm' });
  }
  return out;
}
