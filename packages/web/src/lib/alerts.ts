/**
 * Alerts while the app is open but not looked at: a system notification through the service
 * worker's registration (one per conversation, replaced, never stacked), a short beep, and the
 * installed app's badge. Which conversations count is decided here, for the title too: muted
 * ones do not, except for messages that mention me (unless the mute covers mentions too).
 */
import type { Conversation, Message } from '@parley/protocol';

const SOUND_KEY = 'parley.sound';

export function isMuted(c: Conversation, now = Date.now()): boolean {
  return c.mutedUntil !== undefined && (c.mutedUntil === null || c.mutedUntil > now);
}

/** The conversation is muted now, mentions of me included. */
export function mentionsMuted(c: Conversation, now = Date.now()): boolean {
  return c.mutedMentions === true && isMuted(c, now);
}

export function mentions(m: Message, userId: string): boolean {
  return m.mentions?.includes(userId) === true;
}

/** A message that must not alert me: in a muted conversation, unless it mentions me and mentions are not muted. */
export function silenced(c: Conversation, mentioned: boolean, now = Date.now()): boolean {
  return isMuted(c, now) && (!mentioned || mentionsMuted(c, now));
}

/**
 * Unread messages for the title and the badge: every unread message of a conversation not
 * muted, of a muted one only those that mention me (`unreadMentions`), and none of one muted
 * with its mentions.
 */
export function alertCount(
  conversations: Iterable<Conversation>,
  unreadMentions: (conversationId: string) => number,
  now = Date.now(),
): number {
  let n = 0;
  for (const c of conversations) {
    if (!isMuted(c, now)) n += c.unread;
    else if (!mentionsMuted(c, now)) n += Math.min(c.unread, unreadMentions(c.id));
  }
  return n;
}

/** The app is open but nobody is looking at it: the tab is hidden or the window not focused. */
export function unattended(): boolean {
  return document.visibilityState !== 'visible' || !document.hasFocus();
}

/** The beep setting of this browser: on unless turned off. */
export function soundOn(): boolean {
  try {
    return localStorage.getItem(SOUND_KEY) !== 'off';
  } catch {
    return true;
  }
}

export function setSoundOn(on: boolean): void {
  try {
    if (on) localStorage.removeItem(SOUND_KEY);
    else localStorage.setItem(SOUND_KEY, 'off');
  } catch {
    // Storage disabled: the choice lasts until the page closes.
  }
}

let audio: AudioContext | undefined;

/** A short two-note chime made with WebAudio; silent where audio is not allowed yet. */
export function beep(): void {
  try {
    audio ??= new AudioContext();
    const ctx = audio;
    if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
    const t = ctx.currentTime;
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    gain.connect(ctx.destination);
    for (const [freq, at] of [
      [880, 0],
      [1320, 0.09],
    ] as const) {
      const osc = ctx.createOscillator();
      osc.type = 'sine';
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(t + at);
      osc.stop(t + at + 0.2);
    }
  } catch {
    // No WebAudio here: no sound.
  }
}

type BadgeNavigator = Navigator & {
  setAppBadge?: (n?: number) => Promise<void>;
  clearAppBadge?: () => Promise<void>;
};

let badgeShown: number | undefined;

/** Show `n` on the installed app's icon (cleared at 0), where the browser can. */
export function setBadge(n: number): void {
  const nav = navigator as BadgeNavigator;
  if (n === badgeShown || nav.setAppBadge === undefined) return;
  badgeShown = n;
  const done = n > 0 ? nav.setAppBadge(n) : (nav.clearAppBadge?.() ?? nav.setAppBadge(0));
  void done.catch(() => undefined);
}

/**
 * The tag of a conversation's notifications: the server's collapse key (the first 32
 * characters of the base64url SHA-256 of the conversation id), so the app's notification and
 * a pushed one replace each other.
 */
export async function notificationTag(conversationId: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(conversationId));
  let bin = '';
  for (const b of new Uint8Array(digest)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '').slice(0, 32);
}

export interface Alert {
  conversationId: string;
  kind: Conversation['kind'];
  /** The group's name, or the sender's in a 1:1. */
  conversationName: string;
  senderName: string;
  /** Absent when notifications carry no message text (the pushPreview setting). */
  text: string | undefined;
  seq: number;
  /** Unread messages of the conversation, this one included. */
  unread: number;
  createdAt: number;
}

/** What the notification of a conversation remembers (the service worker merges into it). */
interface Shown {
  conversationId: string;
  seq: number;
  count: number;
}

/**
 * Show (or replace) the conversation's notification. Same words as the service worker's
 * pushed ones, and like them never an older message over a newer one.
 */
export async function showAlert(a: Alert): Promise<void> {
  const reg = await navigator.serviceWorker.getRegistration();
  if (reg === undefined) return;
  const tag = await notificationTag(a.conversationId);
  const [existing] = await reg.getNotifications({ tag });
  const prev = existing?.data as Partial<Shown> | undefined;
  if (typeof prev?.seq === 'number' && prev.seq >= a.seq) return;
  const count = Math.max(1, a.unread);
  const line =
    a.text === undefined
      ? `New message from ${a.senderName}`
      : a.kind === 'group'
        ? `${a.senderName}: ${a.text}`
        : a.text;
  const icon = '/icons/icon-192.png';
  const data: Shown = { conversationId: a.conversationId, seq: a.seq, count };
  // `renotify`: a replaced notification still alerts (not in TypeScript's DOM lib).
  const options: NotificationOptions & { renotify: boolean; timestamp: number } = {
    body: count > 1 ? `${count} new messages\n${line}` : line,
    tag,
    icon,
    badge: icon,
    data,
    renotify: true,
    timestamp: a.createdAt,
  };
  await reg.showNotification(a.conversationName, options);
}
