import { MAX_PRESENCE_IDS, ParleyError } from '@parley/protocol';
import type { Presence, PresenceFrame, PrivacySettings } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { TurnBatch } from '../turn-batch.js';
import type { PresenceTracker } from './presence.js';

/**
 * Presence fan-out and privacy. Status changes are pushed to the user's contacts and 1:1
 * partners over the bus; group members fetch presence on demand instead.
 * Only contacts and people who share a conversation see anything, blocked users never.
 */
export class PresenceService {
  private readonly timer: NodeJS.Timeout;
  /** Audiences of every user whose presence changed in one turn, in one store call. */
  private readonly audiences: TurnBatch<string, string[]>;
  /** Per user with a change in flight, the number of their latest change. */
  private readonly latest = new Map<string, number>();
  private changes = 0;
  private closed = false;

  constructor(
    private readonly tracker: PresenceTracker,
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly log: Logger,
    /** How often last-active times are written, in ms: at most one write per user per interval. */
    flushMs = 60_000,
  ) {
    this.audiences = new TurnBatch((userIds) => store.presenceAudiences(userIds));
    tracker.onChange((userId, state) => {
      this.publish(userId, state.online, state.lastActiveAt).catch((err: unknown) => {
        // Changes made by the stop itself (its sockets closing) may outlive the store.
        if (!this.closed) log.warn({ err }, 'presence fan-out failed');
      });
    });
    this.timer = setInterval(() => void this.flush(), flushMs).unref();
  }

  private async publish(userId: string, online: boolean, lastActiveAt: number | null): Promise<void> {
    // Audience lookups of different turns may complete out of order (a cluster runs them on
    // several pool connections): only the user's latest change goes out, never an older one
    // after it.
    const change = ++this.changes;
    this.latest.set(userId, change);
    let stale = true;
    let audience: string[] = [];
    try {
      audience = await this.audiences.get(userId);
    } finally {
      stale = this.latest.get(userId) !== change; // a later change is on its way
      if (!stale) this.latest.delete(userId);
    }
    if (stale || audience.length === 0) return;
    const frame: PresenceFrame = { type: 'presence', userId, online, lastActiveAt };
    this.bus.publish({ type: 'deliver', userIds: audience, frame: JSON.stringify(frame) });
  }

  /** Tell one viewer the current presence of a user (after they became contacts, say). */
  async sendTo(viewerId: string, userId: string): Promise<void> {
    const [p] = await this.get(viewerId, [userId]);
    if (!p) return;
    const frame: PresenceFrame = { type: 'presence', ...p };
    this.bus.publish({ type: 'deliver', userIds: [viewerId], frame: JSON.stringify(frame) });
  }

  /** Presence of up to 100 users as `viewerId` may see it; invisible users are left out. */
  async get(viewerId: string, userIds: readonly string[]): Promise<Presence[]> {
    const unique = [...new Set(userIds)];
    if (unique.length > MAX_PRESENCE_IDS) throw new ParleyError('too_many_ids');
    const visible = await this.store.visibleTo(viewerId, unique);
    const live = await this.tracker.states(visible);
    const missing = visible.filter((id) => !live.has(id));
    const stored = new Map(
      (await this.store.getUsersByIds(missing)).map((u) => [u.id, u.lastActiveAt ?? null]),
    );
    const out: Presence[] = [];
    for (const id of visible) {
      const s = live.get(id);
      if (s) out.push({ userId: id, online: s.online, lastActiveAt: s.lastActiveAt });
      else if (stored.has(id)) out.push({ userId: id, online: false, lastActiveAt: stored.get(id) ?? null });
    }
    return out;
  }

  /** The user's privacy settings. */
  privacy(userId: string): Promise<PrivacySettings> {
    return this.store.getPrivacy(userId);
  }

  /** Change some of the user's privacy settings; returns them all. */
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    return this.store.setPrivacy(userId, patch);
  }

  /** Persist last-active times gathered since the previous flush (one batched write). */
  async flush(): Promise<void> {
    const dirty = this.tracker.takeDirty();
    if (dirty.length === 0) return;
    try {
      await this.store.setLastActive(dirty);
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
