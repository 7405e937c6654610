import { MAX_PRESENCE_IDS, ParleyError } from '@parley/protocol';
import type { ContactFrame, ContactList, ContactState, Presence, User, UserFrame } from '@parley/protocol';
import { AuthService, toUser } from '../auth/auth-service.js';
import type { Bus } from '../bus/bus.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { PresenceService } from '../presence/presence-service.js';
import type { AccountStore, ConversationStore, SocialStore, UserRow } from '../store/store.js';

export interface ContactServiceOptions {
  /** After a user declines (or drops) my request, I may ask them again only this much later, ms. Default 86400000. */
  requestCooldownMs?: number;
}

/** Contacts (request → accept/decline), removal, and blocking. */
export class ContactService {
  private readonly cooldownMs: number;
  /** Set by the app: blocking the sender of a message request also removes the request. */
  conversations: ConversationService | undefined;

  constructor(
    private readonly accounts: AccountStore,
    private readonly social: SocialStore,
    private readonly conversationStore: ConversationStore,
    private readonly bus: Bus,
    private readonly presence: PresenceService,
    opts: ContactServiceOptions = {},
  ) {
    this.cooldownMs = opts.requestCooldownMs ?? 86_400_000;
  }

  async resolve(target: { username?: string; userId?: string }): Promise<UserRow> {
    const u =
      target.userId !== undefined
        ? await this.accounts.getUserById(target.userId)
        : await this.accounts.getUserByUsername(AuthService.normalizeUsername(target.username ?? ''));
    if (!u) throw new ParleyError('not_found', 'No such user');
    return u;
  }

  private notify(toUserId: string, about: UserRow, state: ContactState): void {
    const frame: ContactFrame = { type: 'contact', user: toUser(about), state };
    this.bus.publish({ type: 'deliver', userIds: [toUserId], frame: JSON.stringify(frame) });
  }

  /**
   * Tell every device that shows this user's name (theirs, their conversations' members',
   * their contacts') about a change, in one `user` frame over the bus.
   */
  async announceUser(user: User): Promise<void> {
    const frame: UserFrame = { type: 'user', user };
    const userIds = await this.social.relatedUsers(user.id);
    this.bus.publish({ type: 'deliver', userIds, frame: JSON.stringify(frame) });
  }

  async list(userId: string): Promise<ContactList> {
    const rows = await this.social.listContacts(userId);
    const blockedIds = await this.social.listBlocked(userId);
    const users = new Map(
      (await this.accounts.getUsersByIds([...rows.map((r) => r.userId), ...blockedIds])).map((u) => [
        u.id,
        toUser(u),
      ]),
    );
    const accepted = rows.filter((r) => r.state === 'accepted');
    const presence = new Map<string, Presence>();
    // The presence API takes at most 100 ids at a time.
    for (let i = 0; i < accepted.length; i += MAX_PRESENCE_IDS) {
      const ids = accepted.slice(i, i + MAX_PRESENCE_IDS).map((r) => r.userId);
      for (const p of await this.presence.get(userId, ids)) presence.set(p.userId, p);
    }
    const pick = (state: ContactState) =>
      rows
        .filter((r) => r.state === state)
        .flatMap((r) => (users.get(r.userId) ? [users.get(r.userId) as User] : []));
    return {
      contacts: accepted.flatMap((r) => {
        const user = users.get(r.userId);
        if (!user) return [];
        return [
          {
            user,
            since: r.since,
            presence: presence.get(r.userId) ?? { userId: r.userId, online: false, lastActiveAt: null },
          },
        ];
      }),
      incoming: pick('incoming'),
      outgoing: pick('outgoing'),
      blocked: blockedIds.flatMap((id) => (users.get(id) ? [users.get(id) as User] : [])),
    };
  }

  /** Ask to be contacts; if they already asked me, we are contacts now. */
  async request(userId: string, target: { username?: string; userId?: string }): Promise<ContactState> {
    const other = await this.resolve(target);
    if (other.id === userId) throw new ParleyError('invalid_field', 'You cannot add yourself');
    const me = (await this.accounts.getUserById(userId)) as UserRow;
    const mine = await this.social.getContactState(userId, other.id);
    if (mine === 'accepted' || mine === 'outgoing') return mine;
    if (await this.social.isBlockedEither(userId, other.id)) {
      // Blocked either way: refuse without telling a blocked requester that they are blocked.
      if ((await this.social.listBlocked(userId)).includes(other.id)) throw new ParleyError('blocked');
      return 'outgoing';
    }
    if (mine === 'incoming') return this.accept(userId, other.id);
    const declined = await this.social.declinedAt(other.id, userId);
    const wait = declined === null ? 0 : declined + this.cooldownMs - Date.now();
    if (wait > 0) {
      throw new ParleyError('rate_limited', 'You can ask this user again later', {
        retryAfter: Math.ceil(wait / 1000),
      });
    }
    await this.social.setContactPair(userId, 'outgoing', other.id, 'incoming', Date.now());
    this.notify(other.id, me, 'incoming');
    this.notify(userId, other, 'outgoing');
    return 'outgoing';
  }

  async accept(userId: string, otherId: string): Promise<ContactState> {
    if ((await this.social.getContactState(userId, otherId)) !== 'incoming') {
      throw new ParleyError('not_found', 'No such contact request');
    }
    await this.social.setContactPair(userId, 'accepted', otherId, 'accepted', Date.now());
    const [me, other] = [await this.accounts.getUserById(userId), await this.accounts.getUserById(otherId)];
    if (me && other) {
      this.notify(otherId, me, 'accepted');
      this.notify(userId, other, 'accepted');
    }
    await this.presence.sendTo(userId, otherId);
    await this.presence.sendTo(otherId, userId);
    return 'accepted';
  }

  async decline(userId: string, otherId: string): Promise<ContactState> {
    if ((await this.social.getContactState(userId, otherId)) !== 'incoming') {
      throw new ParleyError('not_found', 'No such contact request');
    }
    await this.social.setContactPair(userId, 'none', otherId, 'none', Date.now());
    await this.social.recordDecline(userId, otherId, Date.now());
    const other = await this.accounts.getUserById(otherId);
    if (other) this.notify(userId, other, 'none');
    return 'none';
  }

  /** Remove a contact or cancel my request (both sides lose the relation). */
  async remove(userId: string, otherId: string): Promise<ContactState> {
    const state = await this.social.getContactState(userId, otherId);
    if (state === 'none') throw new ParleyError('not_found', 'No such contact');
    await this.social.setContactPair(userId, 'none', otherId, 'none', Date.now());
    // Dropping their request is declining it.
    if (state === 'incoming') await this.social.recordDecline(userId, otherId, Date.now());
    const [me, other] = [await this.accounts.getUserById(userId), await this.accounts.getUserById(otherId)];
    if (other) this.notify(userId, other, 'none');
    if (me && state !== 'incoming') this.notify(otherId, me, 'none');
    if (state === 'accepted') {
      // Presence shown to contacts only is theirs no more.
      await this.presence.sendTo(userId, otherId);
      await this.presence.sendTo(otherId, userId);
    }
    return 'none';
  }

  /** Block: no 1:1 either way, no adding me to groups, no presence; contact relation ends. */
  async block(userId: string, target: { username?: string; userId?: string }): Promise<void> {
    const other = await this.resolve(target);
    if (other.id === userId) throw new ParleyError('invalid_field', 'You cannot block yourself');
    if ((await this.social.getContactState(userId, other.id)) !== 'none') {
      await this.social.setContactPair(userId, 'none', other.id, 'none', Date.now());
      this.notify(userId, other, 'none');
    }
    await this.social.block(userId, other.id, Date.now());
    // Their message request to me goes from my list with them.
    const direct = await this.conversationStore.findDirect(userId, other.id);
    if (direct && this.conversations) await this.conversations.dismissRequest(userId, direct.id);
    // The blocked user now sees me as they would a stranger: offline, no last seen; and my
    // devices stop showing theirs.
    const frame = { type: 'presence', userId, online: false, lastActiveAt: null };
    this.bus.publish({ type: 'deliver', userIds: [other.id], frame: JSON.stringify(frame) });
    const mine = { type: 'presence', userId: other.id, online: false, lastActiveAt: null };
    this.bus.publish({ type: 'deliver', userIds: [userId], frame: JSON.stringify(mine) });
  }

  async unblock(userId: string, otherId: string): Promise<void> {
    if (!(await this.social.listBlocked(userId)).includes(otherId))
      throw new ParleyError('not_found', 'Not blocked');
    await this.social.unblock(userId, otherId);
    // Each side sees the other's presence again if they share a conversation or are contacts.
    await this.presence.sendTo(userId, otherId);
    await this.presence.sendTo(otherId, userId);
  }
}
