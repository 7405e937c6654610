/**
 * Service worker: keeps the app shell (HTML, scripts, styles, icons) in a versioned cache so
 * the app opens offline and shows the chats cached in IndexedDB. API calls and the WebSocket
 * are never cached. The precache list is written into this file by build/pwa-plugin.ts.
 *
 * It also shows push notifications (Web Push, see packages/server/src/push/): one per
 * conversation, merged with the one already shown ("3 new messages"), none for a conversation
 * an open, visible window shows; a click opens the app at that conversation.
 *
 * Built apart from the app as one classic script (build/pwa-plugin.ts); the few worker types
 * it uses are declared here because the DOM and WebWorker libs cannot share one program.
 */
import type { PushPayload } from '@parley/protocol';

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface PushEvent extends ExtendableEvent {
  readonly data: { json(): unknown } | null;
}
interface NotificationEvent extends ExtendableEvent {
  readonly notification: Notification;
}
interface WindowClient {
  readonly url: string;
  readonly focused: boolean;
  readonly visibilityState: DocumentVisibilityState;
  focus(): Promise<WindowClient>;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'push', listener: (event: PushEvent) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: NotificationEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: {
    claim(): Promise<void>;
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
  };
  readonly registration: ServiceWorkerRegistration;
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

// ---- push notifications ----

/** What the notification of a conversation remembers, to merge the next one into it. */
interface Shown {
  conversationId: string;
  seq: number;
  count: number;
}

/**
 * Same words as the server's push/payload.ts notificationText (native apps show those); the
 * server already took the markup out of the text.
 */
function notificationText(p: PushPayload, count: number): { title: string; body: string } {
  const title = p.kind === 'group' ? p.conversationName : p.senderName;
  const line =
    p.text === undefined
      ? `New message from ${p.senderName}`
      : p.kind === 'group'
        ? `${p.senderName}: ${p.text}`
        : p.text;
  return { title, body: count > 1 ? `${count} new messages\n${line}` : line };
}

function isPayload(v: unknown): v is PushPayload {
  const p = v as Partial<PushPayload> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    p.type === 'message' &&
    typeof p.conversationId === 'string' &&
    typeof p.tag === 'string' &&
    typeof p.seq === 'number'
  );
}

/** How long a window has to say which conversation it shows, ms. */
const VIEWING_ANSWER_MS = 500;

/**
 * The conversation a visible window shows, as the window says (main.tsx): a window's URL
 * here does not follow its hash, where the app keeps its route. Null when it does not answer.
 */
function shownIn(w: WindowClient): Promise<string | null> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), VIEWING_ANSWER_MS);
    channel.port1.onmessage = (e: MessageEvent) => {
      clearTimeout(timer);
      const id = (e.data as { conversationId?: unknown } | null)?.conversationId;
      resolve(typeof id === 'string' ? id : null);
    };
    w.postMessage({ type: 'parley.viewing' }, [channel.port2]);
  });
}

async function showPush(data: unknown, viewing: Promise<Set<string>>): Promise<void> {
  const reg = scope.registration;
  const icon = '/icons/icon-192.png';
  if (!isPayload(data)) {
    await reg.showNotification('Parley', { body: 'New message', tag: 'parley', icon });
    return;
  }
  // A window showed this conversation when the push came: the message is on screen.
  if ((await viewing).has(data.conversationId)) return;
  // A burst in one conversation is one notification: the server gives every message of it
  // the same tag (also the push service's Topic); count what is waiting there.
  const [existing] = await reg.getNotifications({ tag: data.tag });
  const prev = existing?.data as Partial<Shown> | undefined;
  // A push that comes after a newer one of the same conversation (push services do not keep
  // order) must not replace it: the newer one's unread count already includes it.
  if (typeof prev?.seq === 'number' && prev.seq >= data.seq) return;
  let count = Math.max(1, data.unread);
  if (typeof prev?.count === 'number' && typeof prev.seq === 'number' && prev.seq < data.seq) {
    count = Math.max(count, prev.count + 1);
  }
  const { title, body } = notificationText(data, count);
  const shown: Shown = { conversationId: data.conversationId, seq: data.seq, count };
  // `renotify`: a merged notification still alerts (not in TypeScript's DOM lib).
  const options: NotificationOptions & { renotify: boolean; timestamp: number } = {
    body,
    tag: data.tag,
    icon,
    badge: icon,
    data: shown,
    renotify: true,
    timestamp: data.createdAt,
  };
  await reg.showNotification(title, options);
}

/** Push events one after another: each reads the shown notification before replacing it. */
let pushes: Promise<void> = Promise.resolve();

scope.addEventListener('push', (event) => {
  let data: unknown = null;
  try {
    data = event.data?.json() ?? null;
  } catch {
    // Not JSON: a generic notification.
  }
  // What the visible windows show is asked when the push comes, not when its turn comes.
  const viewing = scope.clients
    .matchAll({ type: 'window', includeUncontrolled: true })
    .then((windows) => Promise.all(windows.filter((w) => w.visibilityState === 'visible').map(shownIn)))
    .then((ids) => new Set(ids.filter((id): id is string => id !== null)));
  const shown = pushes.then(() => showPush(data, viewing));
  pushes = shown.catch(() => undefined);
  event.waitUntil(shown);
});

scope.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = (event.notification.data as Partial<Shown> | null)?.conversationId;
  const url = id === undefined ? '/' : `/#/c/${encodeURIComponent(id)}`;
  event.waitUntil(
    (async () => {
      const windows = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const win = windows.find((w) => new URL(w.url).origin === scope.location.origin);
      if (win !== undefined) {
        await win.focus();
        // The app navigates itself (its route is in the hash).
        win.postMessage({ type: 'parley.open', conversationId: id ?? null });
        return;
      }
      await scope.clients.openWindow(url);
    })(),
  );
});
