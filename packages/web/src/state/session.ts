/**
 * The session (token, user, device) in localStorage: shared by the tabs of this browser,
 * never put in a URL. Tabs hear of each other's log in and log out through `storage` events.
 */
import type { User } from '@parley/client';

const KEY = 'parley.session';

export interface StoredSession {
  token: string;
  user: User;
  deviceId: string;
}

function isSession(v: unknown): v is StoredSession {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const u = s.user as Record<string, unknown> | undefined;
  return (
    typeof s.token === 'string' &&
    typeof s.deviceId === 'string' &&
    typeof u === 'object' &&
    u !== null &&
    typeof u.id === 'string' &&
    typeof u.username === 'string' &&
    typeof u.displayName === 'string'
  );
}

export function loadSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (raw === null) return null;
    const v: unknown = JSON.parse(raw);
    return isSession(v) ? v : null;
  } catch {
    return null;
  }
}

export function saveSession(session: StoredSession): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage full or disabled: the session lasts until the page closes.
  }
}

export function clearSession(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}
