/**
 * Service worker: keeps the app shell (HTML, scripts, styles, icons) in a versioned cache so
 * the app opens offline and shows the chats cached in IndexedDB. API calls and the WebSocket
 * are never cached. The precache list is written into this file by build/pwa-plugin.ts.
 *
 * Written without imports so it builds as one classic script; the few worker types it uses
 * are declared here because the DOM and WebWorker libs cannot share one program.
 */

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}

const scope = self as unknown as WorkerScope;
const precache = JSON.parse('__PARLEY_PRECACHE__') as { version: string; files: string[] };
const CACHE = `parley-shell-${precache.version}`;

scope.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(precache.files.map((f) => new Request(f, { cache: 'reload' })));
      await scope.skipWaiting();
    })(),
  );
});

scope.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith('parley-shell-') && key !== CACHE) await caches.delete(key);
      }
      await scope.clients.claim();
    })(),
  );
});

const shellFiles = new Set(precache.files);

scope.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  // Only the shell: the API, the WebSocket, /metrics and the like always go to the network.
  if (url.origin !== scope.location.origin || !shellFiles.has(url.pathname)) return;

  if (req.mode === 'navigate') {
    // Network first so a new deployment shows at once; the cached shell when offline.
    event.respondWith(
      fetch(req).catch(async () => (await caches.match('/', { cacheName: CACHE })) ?? Response.error()),
    );
    return;
  }
  // Hashed assets never change: cache first.
  event.respondWith(
    (async () => {
      const hit = await caches.match(req, { cacheName: CACHE });
      return hit ?? fetch(req);
    })(),
  );
});
