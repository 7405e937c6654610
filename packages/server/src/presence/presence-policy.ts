/**
 * Who sees what of a user's presence: the one rule, applied to pushed `presence` frames and
 * to every answer that carries presence (`GET /v1/presence`, contact lists). The store says
 * who may be considered at all (contacts and people sharing a conversation, never across a
 * block); the user's privacy settings narrow that down here.
 */
import type { Presence, PresenceAudience, PrivacySettings } from '@parley/protocol';

/** The viewer, as the user whose presence it is sees them. */
export type Viewer = 'self' | 'contact' | 'other';

/** Last seen reaches others in whole minutes (rounded down); the user's own devices get it exact. */
export const LAST_SEEN_PRECISION_MS = 60_000;

function allows(audience: PresenceAudience, viewer: Viewer): boolean {
  return viewer === 'self' || audience === 'everyone' || (audience === 'contacts' && viewer === 'contact');
}

/**
 * What `viewer` may see of `p`: online only if the `online` setting admits them, last seen
 * (rounded down to the minute) only if `lastSeen` does; null when neither does.
 */
export function presenceFor(
  p: Presence,
  privacy: Pick<PrivacySettings, 'online' | 'lastSeen'>,
  viewer: Viewer,
): Presence | null {
  if (viewer === 'self') return p;
  const online = allows(privacy.online, viewer);
  const lastSeen = allows(privacy.lastSeen, viewer);
  if (!online && !lastSeen) return null;
  const at = p.lastActiveAt;
  return {
    userId: p.userId,
    online: online && p.online,
    lastActiveAt:
      lastSeen && at !== null ? Math.floor(at / LAST_SEEN_PRECISION_MS) * LAST_SEEN_PRECISION_MS : null,
  };
}

/**
 * What to push to `viewer` when the user goes online or offline: nothing when they may see
 * neither, and nothing on coming online when only the last seen is theirs to see.
 */
export function presenceChangeFor(
  p: Presence,
  privacy: Pick<PrivacySettings, 'online' | 'lastSeen'>,
  viewer: Viewer,
): Presence | null {
  if (p.online && !allows(privacy.online, viewer)) return null;
  return presenceFor(p, privacy, viewer);
}

/** What a viewer who may no longer see the user is shown: offline, last seen unknown. */
export const unknownPresence = (userId: string): Presence => ({ userId, online: false, lastActiveAt: null });
