import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

// The built demo app, served as plain files. `no-cache` (revalidate every time, not "never
// cache") so a rebuilt app is picked up at once while the service worker keeps its own copy
// for offline use.

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** Serves GET/HEAD for files under `root`; a directory serves its index.html. */
export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): void {
  const base = resolve(root);
  const file = resolve(join(base, normalize(decodeURIComponent(pathname))));
  // resolve() collapses "..": anything that lands outside root is someone probing.
  if (file !== base && !file.startsWith(base + sep)) return notFound(res);
  let path = file;
  try {
    if (statSync(path).isDirectory()) {
      // A directory without its trailing slash would resolve the page's relative URLs one level up.
      if (!pathname.endsWith('/')) {
        res.writeHead(301, { location: `${pathname}/` }).end();
        return;
      }
      path = join(path, 'index.html');
    }
    const size = statSync(path).size;
    const headers = {
      'content-type': contentTypes[extname(path)] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  } catch {
    notFound(res);
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}
