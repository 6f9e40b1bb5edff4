// The phone app's service worker: keeps the app shell (page, script, styles, manifest, icon) in
// a cache so the app opens with no network at all, which, with the Y.Doc in IndexedDB, makes
// it usable offline and installable as a PWA. Network first (a rebuilt app shows at once when
// online), the cache when the network fails or hangs. gRPC-Web calls (POST) are never touched.

export {}; // a module, so none of the names below become globals of the TS program

declare const SHELL_VERSION: string; // set by the build, so a new build gets a new cache

interface SwEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface SwFetchEvent extends SwEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface SwScope {
  addEventListener(type: 'install' | 'activate', listener: (event: SwEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: SwFetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}

const scope = self as unknown as SwScope;
const cacheName = `concord-shell-${SHELL_VERSION}`;
const shell = ['./', 'index.html', 'app.js', 'app.css', 'manifest.webmanifest', 'icon.svg'];
const networkWaitMs = 3000;

scope.addEventListener('install', (event) => {
  event.waitUntil(caches.open(cacheName).then((cache) => cache.addAll(shell)).then(() => scope.skipWaiting()));
});

scope.addEventListener('activate', (event) => {
  const old = caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith('concord-shell-') && k !== cacheName).map((k) => caches.delete(k))));
  event.waitUntil(old.then(() => scope.clients.claim()));
});

scope.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== scope.location.origin) return;
  event.respondWith(networkThenCache(request));
});

async function networkThenCache(request: Request): Promise<Response> {
  const cache = await caches.open(cacheName);
  try {
    const response = await withTimeout(fetch(request), networkWaitMs);
    if (response.ok && isShell(request)) await cache.put(request, response.clone());
    return response;
  } catch {
    // The page URL carries ?user=...&phone=..., the cached shell does not.
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached !== undefined) return cached;
    const page = request.mode === 'navigate' ? await cache.match('index.html') : undefined;
    return page ?? new Response('offline and not cached', { status: 503, headers: { 'content-type': 'text/plain' } });
  }
}

function isShell(request: Request): boolean {
  const path = new URL(request.url).pathname;
  return shell.some((entry) => new URL(entry, scope.location.href).pathname === path);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('network too slow')), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
