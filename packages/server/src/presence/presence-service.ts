import { MAX_PRESENCE_IDS, ParleyError } from '@parley/protocol';
import type { Presence, PresenceFrame, PrivacySettings } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { AccountStore, SocialStore } from '../store/store.js';
import { TurnBatch } from '../turn-batch.js';
import type { PresenceTracker } from './presence.js';
import { presenceChangeFor, presenceFor, unknownPresence } from './presence-policy.js';
import type { Viewer } from './presence-policy.js';

/** Who is told of a user's presence changes, and what the user lets each of them see. */
interface Audience {
  /** Contacts and 1:1 partners, minus blocks (the store's `presenceAudiences`). */
  viewers: string[];
  /** Those of the user's accepted contacts. */
  contacts: Set<string>;
  privacy: PrivacySettings;
}

/**
 * Presence fan-out and privacy. Status changes are pushed to the user's contacts and 1:1
 * partners over the bus; group members fetch presence on demand instead.
 * Only contacts and people who share a conversation may see anything, blocked users never,
 * and of those only whom the user's privacy settings admit (presence-policy.ts).
 */
export class PresenceService {
  private readonly timer: NodeJS.Timeout;
  /** Audiences of every user whose presence changed in one turn, in one store call. */
  private readonly audiences: TurnBatch<string, Audience>;
  /** Per user with a change in flight, the number of their latest change. */
  private readonly latest = new Map<string, number>();
  private changes = 0;
  private closed = false;

  constructor(
    private readonly tracker: PresenceTracker,
    private readonly accounts: AccountStore,
    private readonly social: SocialStore,
    private readonly bus: Bus,
    private readonly log: Logger,
    /** How often last-active times are written, in ms: at most one write per user per interval. */
    flushMs = 60_000,
  ) {
    this.audiences = new TurnBatch((userIds) => this.lookUpAudiences(userIds));
    tracker.onChange((userId, state) => {
      this.publish(userId, state.online, state.lastActiveAt).catch((err: unknown) => {
        // Changes made by the stop itself (its sockets closing) may outlive the store.
        if (!this.closed) log.warn({ err }, 'presence fan-out failed');
      });
    });
    this.timer = setInterval(() => void this.flush(), flushMs).unref();
  }

  private async lookUpAudiences(userIds: string[]): Promise<Audience[]> {
    const [viewers, contacts, privacy] = await Promise.all([
      this.social.presenceAudiences(userIds),
      this.social.acceptedContacts(userIds),
      this.accounts.getPrivacies(userIds),
    ]);
    return userIds.map((_, i) => ({
      viewers: viewers[i] ?? [],
      contacts: new Set(contacts[i]),
      privacy: privacy[i] as PrivacySettings,
    }));
  }

  /** Send each viewer their own view of a user's presence: one bus event per distinct frame. */
  private deliver(
    audience: Audience,
    view: (viewer: Viewer) => Presence | null,
    viewers: readonly string[] = audience.viewers,
  ): void {
    const byFrame = new Map<string, string[]>();
    const views = new Map<Viewer, string | null>();
    for (const id of viewers) {
      const kind: Viewer = audience.contacts.has(id) ? 'contact' : 'other';
      let frame = views.get(kind);
      if (frame === undefined) {
        const p = view(kind);
        frame = p ? JSON.stringify({ type: 'presence', ...p } satisfies PresenceFrame) : null;
        views.set(kind, frame);
      }
      if (frame === null) continue;
      const ids = byFrame.get(frame);
      if (ids) ids.push(id);
      else byFrame.set(frame, [id]);
    }
    for (const [frame, userIds] of byFrame) this.bus.publish({ type: 'deliver', userIds, frame });
  }

  private async publish(userId: string, online: boolean, lastActiveAt: number | null): Promise<void> {
    // Audience lookups of different turns may complete out of order (a cluster runs them on
    // several pool connections): only the user's latest change goes out, never an older one
    // after it.
    const change = ++this.changes;
    this.latest.set(userId, change);
    let stale = true;
    let audience: Audience | undefined;
    try {
      audience = await this.audiences.get(userId);
    } finally {
      stale = this.latest.get(userId) !== change; // a later change is on its way
      if (!stale) this.latest.delete(userId);
    }
    if (stale || !audience) return;
    const privacy = audience.privacy;
    this.deliver(audience, (viewer) => presenceChangeFor({ userId, online, lastActiveAt }, privacy, viewer));
  }

  /**
   * Tell one viewer the current presence of a user as they may see it now (after they became
   * contacts, or stopped being ones): offline with no last seen when they may see nothing.
   */
  async sendTo(viewerId: string, userId: string): Promise<void> {
    const [p] = await this.get(viewerId, [userId]);
    const frame: PresenceFrame = { type: 'presence', ...(p ?? unknownPresence(userId)) };
    this.bus.publish({ type: 'deliver', userIds: [viewerId], frame: JSON.stringify(frame) });
  }

  /**
   * Current presence of users as the store and the trackers know it, unfiltered: live state
   * where a tracker has one, else offline with the stored last seen (absent: unknown users).
   */
  private async current(userIds: readonly string[]): Promise<Map<string, Presence>> {
    const live = await this.tracker.states(userIds);
    const missing = userIds.filter((id) => !live.has(id));
    const out = new Map<string, Presence>();
    for (const u of await this.accounts.getUsersByIds(missing)) {
      out.set(u.id, { userId: u.id, online: false, lastActiveAt: u.lastActiveAt ?? null });
    }
    for (const [id, s] of live) out.set(id, { userId: id, online: s.online, lastActiveAt: s.lastActiveAt });
    return out;
  }

  /** Presence of up to 100 users as `viewerId` may see it; invisible users are left out. */
  async get(viewerId: string, userIds: readonly string[]): Promise<Presence[]> {
    const unique = [...new Set(userIds)];
    if (unique.length > MAX_PRESENCE_IDS) throw new ParleyError('too_many_ids');
    const visible = await this.social.visibleTo(viewerId, unique);
    if (visible.length === 0) return [];
    const [privacy, [contacts], current] = await Promise.all([
      this.accounts.getPrivacies(visible),
      this.social.acceptedContacts([viewerId]),
      this.current(visible),
    ]);
    const mine = new Set(contacts);
    const out: Presence[] = [];
    visible.forEach((id, i) => {
      const p = current.get(id);
      if (!p) return;
      const viewer: Viewer = id === viewerId ? 'self' : mine.has(id) ? 'contact' : 'other';
      const seen = presenceFor(p, privacy[i] as PrivacySettings, viewer);
      if (seen) out.push(seen);
    });
    return out;
  }

  /** The user's privacy settings. */
  privacy(userId: string): Promise<PrivacySettings> {
    return this.accounts.getPrivacy(userId);
  }

  /**
   * Change some of the user's privacy settings; returns them all. A change of who sees the
   * presence takes effect at once: everyone it is pushed to gets their view of it anew
   * (offline, no last seen, for those who lost sight of it).
   */
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    const privacy = await this.accounts.setPrivacy(userId, patch);
    if (patch.online === undefined && patch.lastSeen === undefined) return privacy;
    const [[viewers], [contacts], current] = await Promise.all([
      this.social.presenceAudiences([userId]),
      this.social.acceptedContacts([userId]),
      this.current([userId]),
    ]);
    const p = current.get(userId) ?? unknownPresence(userId);
    const audience = { viewers: viewers ?? [], contacts: new Set(contacts), privacy };
    this.deliver(audience, (viewer) => presenceFor(p, privacy, viewer) ?? unknownPresence(userId));
    return privacy;
  }

  /** Persist last-active times gathered since the previous flush (one batched write). */
  async flush(): Promise<void> {
    const dirty = this.tracker.takeDirty();
    if (dirty.length === 0) return;
    try {
      await this.accounts.setLastActive(dirty);
    } catch (err) {
      this.log.warn({ err }, 'could not persist last-active times');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
    this.tracker.close();
  }
}
