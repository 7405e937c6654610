/**
 * Web Push in the browser: ask permission (only when the person clicks "Turn on"), subscribe
 * through the service worker with the server's VAPID key, and register the subscription with
 * the server for this device. The service worker (sw.ts) shows what arrives.
 */
import type { ParleyHttp } from '@parley/client';

const KEY = 'parley.push';

/** What the app remembers per browser: the server's subscription id, and whether the person turned push off here. */
interface PushPrefs {
  id?: string;
  off?: boolean;
  /** The prompt in the chat list was dismissed ("Not now"). */
  dismissed?: boolean;
}

export type PushState = 'unsupported' | 'ask' | 'denied' | 'on' | 'off';

function prefs(): PushPrefs {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as unknown;
    return typeof v === 'object' && v !== null ? (v as PushPrefs) : {};
  } catch {
    return {};
  }
}

function savePrefs(p: PushPrefs): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(p));
  } catch {
    // Storage disabled: the choice lasts until the page closes.
  }
}

export function pushSupported(): boolean {
  return (
    'serviceWorker' in navigator &&
    'PushManager' in window &&
    'Notification' in window &&
    window.isSecureContext
  );
}

/** Where push stands in this browser, without asking anything. */
export function pushState(): PushState {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  if (Notification.permission === 'default') return 'ask';
  return prefs().off === true ? 'off' : 'on';
}

/**
 * The app may show notifications itself (while open but not looked at): the browser's
 * permission was given and notifications were not turned off here.
 */
export function notificationsAllowed(): boolean {
  return 'Notification' in window && Notification.permission === 'granted' && prefs().off !== true;
}

export function promptDismissed(): boolean {
  return prefs().dismissed === true;
}

export function dismissPrompt(): void {
  savePrefs({ ...prefs(), dismissed: true });
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

const sameKey = (a: ArrayBuffer | null, b: Uint8Array): boolean => {
  if (a === null || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
};

/**
 * Subscribe (or reuse the browser's subscription) and register it for this device. Asks for
 * permission first when it was never given: call it from a click.
 */
export async function enablePush(http: ParleyHttp): Promise<PushState> {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'default') await Notification.requestPermission();
  if (Notification.permission !== 'granted') return pushState();
  const registration = await navigator.serviceWorker.ready;
  const key = keyBytes((await http.vapidKey()).publicKey);
  let sub = await registration.pushManager.getSubscription();
  // A subscription made with another server key (the server's keys changed) cannot be used.
  if (sub !== null && !sameKey(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe();
    sub = null;
  }
  sub ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const json = sub.toJSON();
  const info = await http.registerPush({
    kind: 'webpush',
    endpoint: sub.endpoint,
    keys: { p256dh: json.keys?.p256dh ?? '', auth: json.keys?.auth ?? '' },
  });
  savePrefs({ ...prefs(), id: info.id, off: false });
  return 'on';
}

/** Stop notifications on this device: unsubscribe here and on the server. */
export async function disablePush(http: ParleyHttp | null): Promise<void> {
  const p = prefs();
  savePrefs({ dismissed: p.dismissed, off: true });
  if (p.id !== undefined && http !== null) await http.unregisterPush(p.id).catch(() => undefined);
  if (!pushSupported()) return;
  const registration = await navigator.serviceWorker.getRegistration();
  await (await registration?.pushManager.getSubscription())?.unsubscribe();
}

/** Logging out: the server drops this device's subscriptions; drop the browser's too. */
export async function forgetPush(): Promise<void> {
  const p = prefs();
  savePrefs({ dismissed: p.dismissed, off: p.off });
  if (!pushSupported()) return;
  const registration = await navigator.serviceWorker.getRegistration();
  await (await registration?.pushManager.getSubscription())?.unsubscribe();
}
