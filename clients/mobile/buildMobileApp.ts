import { build, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Builds the demo page and the phone app (a PWA) into one static folder the gateway serves:
//   index.html demo.js demo.css           the demo page (four phones + cluster panel)
//   app/index.html app.js app.css sw.js   the phone app, its service worker and manifest
// esbuild, one pass, ~0.2 s. The generated stubs import @grpc/grpc-js for their Node clients;
// the browser bundle gets a stand-in (only their codecs and method paths are used there).

const here = __dirname;
export const defaultAppDir = join(here, 'dist');

const grpcJsShim: Plugin = {
  name: 'grpc-js-shim',
  setup(b) {
    b.onResolve({ filter: /^@grpc\/grpc-js$/ }, () => ({ path: join(here, 'src', 'grpcJsShim.ts') }));
  },
};

/** Builds into `outDir` (replacing it) and returns it. */
export async function buildMobileApp(outDir: string = defaultAppDir): Promise<string> {
  const out = resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(join(here, 'static'), out, { recursive: true });
  await build({
    entryPoints: { demo: join(here, 'src', 'demoPage.ts'), 'app/app': join(here, 'src', 'phoneApp.ts'), 'app/sw': join(here, 'src', 'serviceWorker.ts') },
    outdir: out,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'safari16', 'firefox115'],
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
    plugins: [grpcJsShim],
    define: { SHELL_VERSION: JSON.stringify(sourceHash()) },
  });
  return out;
}

/** A hash of the app's sources: a changed app gets a fresh service-worker cache. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(name).update(readFileSync(path));
    }
  };
  walk(join(here, 'src'));
  walk(join(here, 'static'));
  return hash.digest('hex').slice(0, 12);
}

if (require.main === module) {
  buildMobileApp(process.argv[2]).then(
    (dir) => console.log(`built the demo app into ${dir}`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
