import { MAX_GROUP_MEMBERS, ParleyError } from '@parley/protocol';
import type { Conversation, Member, ServerFrame } from '@parley/protocol';
import type { Bus } from '../bus/bus.js';
import type { PresenceService } from '../presence/presence-service.js';
import { randomId } from '../ids.js';
import { FOREVER } from '../store/store.js';
import type {
  AccountStore,
  ConversationStore,
  ConversationSummaryRow,
  LeftRow,
  MessageStore,
  SocialStore,
  UserRow,
} from '../store/store.js';
import { AuthService, toUser } from '../auth/auth-service.js';
import { cleanName } from '../validate.js';

export interface ConversationServiceOptions {
  /** Most members in a group, creator included. Default 100 (MAX_GROUP_MEMBERS). */
  maxGroupMembers?: number;
  /** New conversations (1:1 and groups) one user may create per hour; 0: no cap. Default 60. */
  maxNewConversationsPerHour?: number;
}

const HOUR_MS = 3_600_000;
/** Direct conversations known to hold no message request, past which the set starts over. */
const PLAIN_CACHED = 100_000;

/**
 * Conversations and membership. A conversation that exists but that the caller is not a
 * member of answers exactly like an unknown id (`not_found`), so ids never leak existence.
 */
export class ConversationService {
  private readonly maxMembers: number;
  private readonly maxNewPerHour: number;
  /** Set by the app: accepting a request shows each side the other's presence. */
  presence: PresenceService | undefined;
  /**
   * Two-member conversations with no pending request: a membership never becomes a request
   * once plain, so a reply needs no store read to know it accepts nothing.
   */
  private readonly plain = new Set<string>();

  constructor(
    private readonly conversations: ConversationStore,
    private readonly accounts: AccountStore,
    private readonly messages: MessageStore,
    private readonly social: SocialStore,
    private readonly bus: Bus,
    opts: ConversationServiceOptions = {},
  ) {
    this.maxMembers = opts.maxGroupMembers ?? MAX_GROUP_MEMBERS;
    this.maxNewPerHour = opts.maxNewConversationsPerHour ?? 60;
  }

  /** Throws `rate_limited` (with the wait) when the user created their hourly share of conversations. */
  private async checkQuota(userId: string): Promise<void> {
    if (this.maxNewPerHour <= 0) return;
    const now = Date.now();
    const times = await this.conversations.createdSince(userId, now - HOUR_MS, this.maxNewPerHour);
    if (times.length < this.maxNewPerHour) return;
    // A slot frees when the oldest creation of the hour leaves it.
    const retryAfter = Math.max(1, Math.ceil(((times[0] ?? now) + HOUR_MS - now) / 1000));
    throw new ParleyError(
      'rate_limited',
      `At most ${this.maxNewPerHour} new conversations per hour; try again later`,
      { retryAfter },
    );
  }

  /**
   * Of `users`, those who take group adds only from contacts (`groupAdds` 'contacts') and are
   * not `adderId`'s contacts. Nobody is added when there is any: `not_allowed` names them.
   */
  private async refuseNonContacts(adderId: string, users: readonly UserRow[]): Promise<void> {
    const others = users.filter((u) => u.id !== adderId);
    if (others.length === 0) return;
    // Two reads for a whole group of up to 100, not two per member.
    const [privacy, [contacts]] = await Promise.all([
      this.accounts.getPrivacies(others.map((u) => u.id)),
      this.social.acceptedContacts([adderId]),
    ]);
    const mine = new Set(contacts);
    const refused = others
      .filter((u, i) => privacy[i]?.groupAdds !== 'everyone' && !mine.has(u.id))
      .map((u) => u.username);
    if (refused.length > 0) {
      throw new ParleyError(
        'not_allowed',
        `Only their contacts can add these users to groups: ${refused.join(', ')}`,
      );
    }
  }

  /** Throws `not_found` unless the user is a member; returns the membership. */
  async requireMember(conversationId: string, userId: string) {
    const m = await this.conversations.getMember(conversationId, userId);
    if (!m) throw new ParleyError('not_found', 'No such conversation');
    return m;
  }

  private async requireAdminOfGroup(conversationId: string, userId: string) {
    const m = await this.requireMember(conversationId, userId);
    const c = await this.conversations.getConversation(conversationId);
    if (!c) throw new ParleyError('not_found', 'No such conversation');
    if (c.kind !== 'group') throw new ParleyError('not_group');
    if (m.role !== 'admin') throw new ParleyError('forbidden');
    return c;
  }

  private async resolveUsernames(usernames: readonly string[]): Promise<UserRow[]> {
    const unique = [...new Set(usernames.map(AuthService.normalizeUsername))];
    const users: UserRow[] = [];
    for (const name of unique) {
      const u = await this.accounts.getUserByUsername(name);
      if (!u) throw new ParleyError('not_found', `No such user: ${name.slice(0, 32)}`);
      users.push(u);
    }
    return users;
  }

  async toConversation(row: ConversationSummaryRow, userId: string): Promise<Conversation> {
    const conv: Conversation = {
      id: row.id,
      kind: row.kind,
      name: row.name,
      createdAt: row.createdAt,
      lastActivityAt: row.lastActivityAt,
      lastSeq: row.lastSeq,
      lastMessage: row.lastMessage,
      unread: row.unread,
      readSeq: row.readSeq,
      memberCount: row.memberCount,
      role: row.role,
    };
    if (row.request) conv.request = true;
    if (row.mutedUntil !== null && row.mutedUntil > Date.now()) {
      conv.mutedUntil = row.mutedUntil >= FOREVER ? null : row.mutedUntil;
      if (row.mutedMentions) conv.mutedMentions = true;
    }
    if (row.kind === 'group' && row.lastMessage !== null) {
      const sender = await this.accounts.getUserById(row.lastMessage.senderId);
      if (sender) conv.lastSender = toUser(sender);
    }
    if (row.kind === 'direct') {
      conv.peerDeliveredSeq = row.peerDeliveredSeq ?? 0;
      conv.peerReadSeq = row.peerReadSeq ?? 0;
      const peer = await this.accounts.getUserById(row.peerId ?? userId);
      if (peer) {
        conv.peer = toUser(peer);
        conv.name = peer.displayName;
      }
    }
    return conv;
  }

  /** A group I left, as it was when I left: name, last message and seq of that moment. */
  private async leftConversation(left: LeftRow): Promise<Conversation | null> {
    const c = await this.conversations.getConversation(left.conversationId);
    if (!c) return null;
    const [last] = (await this.messages.history(c.id, { before: left.leftSeq + 1, limit: 1 })).messages;
    const by = left.leftBy === null ? null : await this.accounts.getUserById(left.leftBy);
    const sender = last ? await this.accounts.getUserById(last.senderId) : null;
    return {
      id: c.id,
      kind: c.kind,
      name: left.name,
      createdAt: c.createdAt,
      lastActivityAt: Math.max(left.leftAt, last?.createdAt ?? 0),
      lastSeq: left.leftSeq,
      lastMessage: last ?? null,
      unread: 0,
      readSeq: left.leftSeq,
      memberCount: (await this.conversations.listMembers(c.id)).length,
      role: 'member',
      left: { at: left.leftAt, seq: left.leftSeq, by: by ? toUser(by) : null },
      ...(sender ? { lastSender: toUser(sender) } : {}),
    };
  }

  async get(conversationId: string, userId: string): Promise<Conversation> {
    const row = await this.conversations.getConversationSummary(conversationId, userId);
    if (row) return this.toConversation(row, userId);
    const left = await this.conversations.getLeft(conversationId, userId);
    const conv = left && (await this.leftConversation(left));
    if (!conv) throw new ParleyError('not_found', 'No such conversation');
    return conv;
  }

  /** My conversations, groups I left included (until I delete them), latest activity first. */
  async list(userId: string, limit: number): Promise<Conversation[]> {
    const rows = await this.conversations.listConversations(userId, limit);
    const current = await Promise.all(rows.map((r) => this.toConversation(r, userId)));
    const left = await Promise.all(
      (await this.conversations.listLeft(userId)).map((l) => this.leftConversation(l)),
    );
    const all = [...current, ...left.filter((c): c is Conversation => c !== null)];
    if (all.length === current.length) return current;
    all.sort((a, b) => b.lastActivityAt - a.lastActivityAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return all.slice(0, limit);
  }

  /**
   * A page of a group I left, as the JSON text of a HistoryPage: messages up to the one the
   * group had when I left, never a later one. Null when I never was in it (or deleted it).
   */
  async leftHistoryJson(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<string | null> {
    const left = await this.conversations.getLeft(conversationId, userId);
    if (!left) return null;
    const end = left.leftSeq;
    if (opts.after !== undefined) {
      const page = await this.messages.history(conversationId, { after: opts.after, limit: opts.limit });
      const messages = page.messages.filter((m) => m.seq <= end);
      // Seqs have no gaps: more exist exactly when this page stops before the end.
      const lastSeq = messages[messages.length - 1]?.seq ?? Math.max(opts.after, end);
      return JSON.stringify({ messages, hasMore: lastSeq < end });
    }
    const before = Math.min(opts.before ?? Number.MAX_SAFE_INTEGER, end + 1);
    return JSON.stringify(await this.messages.history(conversationId, { before, limit: opts.limit }));
  }

  /**
   * Delete a group I left, or a message request, from my list (every device of mine hears
   * `conversation_removed`); a request comes back with the sender's next message. Throws
   * `still_member` for a conversation I am in, `not_found` for one I never was in.
   */
  async deleteLeft(userId: string, conversationId: string): Promise<void> {
    if (!(await this.conversations.deleteLeft(conversationId, userId))) {
      const m = await this.conversations.getMember(conversationId, userId);
      if (m?.request) await this.dismissRequest(userId, conversationId);
      else if (m) throw new ParleyError('still_member');
      else throw new ParleyError('not_found', 'No such conversation');
      return;
    }
    this.publish([userId], { type: 'conversation_removed', conversationId });
  }

  /** Take a request out of my list (delete, or block its sender): my devices hear `conversation_removed`. */
  async dismissRequest(userId: string, conversationId: string): Promise<void> {
    if (await this.conversations.dismissRequest(conversationId, userId)) {
      this.publish([userId], { type: 'conversation_removed', conversationId });
    }
  }

  /**
   * Accept a message request: it becomes a normal chat, which both sides' devices hear of,
   * and each side sees the other's presence. Throws `not_found` when it is not my request.
   */
  async acceptRequest(userId: string, conversationId: string): Promise<Conversation> {
    const m = await this.conversations.getMember(conversationId, userId);
    if (!m) throw new ParleyError('not_found', 'No such conversation');
    if (m.request) await this.accepted(userId, conversationId);
    return this.get(conversationId, userId);
  }

  private async accepted(userId: string, conversationId: string): Promise<void> {
    if (!(await this.conversations.acceptRequest(conversationId, userId))) return;
    const members = await this.conversations.listMembers(conversationId);
    await this.announce(
      conversationId,
      members.map((x) => x.userId),
    );
    const peer = members.find((x) => x.userId !== userId)?.userId;
    if (peer !== undefined && this.presence) {
      await this.presence.sendTo(userId, peer);
      await this.presence.sendTo(peer, userId);
    }
  }

  /**
   * A member sent a message in a conversation of `memberCount` members: replying to a
   * message request accepts it. Two-member conversations known to be plain cost nothing.
   */
  async replied(userId: string, conversationId: string, memberCount: number): Promise<void> {
    if (memberCount !== 2 || this.plain.has(conversationId)) return;
    const members = await this.conversations.listMembers(conversationId);
    if (members.some((x) => x.userId === userId && x.request)) {
      await this.accepted(userId, conversationId);
    } else if (!members.some((x) => x.request)) {
      if (this.plain.size >= PLAIN_CACHED) this.plain.clear();
      this.plain.add(conversationId);
    }
  }

  async direct(userId: string, other: { username?: string; userId?: string }): Promise<Conversation> {
    const peer =
      other.userId !== undefined
        ? await this.accounts.getUserById(other.userId)
        : await this.accounts.getUserByUsername(AuthService.normalizeUsername(other.username ?? ''));
    if (!peer) throw new ParleyError('not_found', 'No such user');
    if (await this.social.isBlockedEither(userId, peer.id)) throw new ParleyError('blocked');
    const existing = await this.conversations.findDirect(userId, peer.id);
    let request = false;
    if (existing) {
      // Opening a chat with the sender of my request is consent, as a reply is.
      if ((await this.conversations.getMember(existing.id, userId))?.request)
        await this.accepted(userId, existing.id);
    } else if (peer.id !== userId) {
      const contacts = (await this.social.getContactState(peer.id, userId)) === 'accepted';
      const { directMessages } = await this.accounts.getPrivacy(peer.id);
      // Answered as an unknown user would be: the refusal tells no more than a not-found.
      if (directMessages === 'contacts' && !contacts) throw new ParleyError('not_found', 'No such user');
      await this.checkQuota(userId);
      request = directMessages === 'requests' && !contacts;
    } else await this.checkQuota(userId);
    const conv =
      existing ??
      (await this.conversations.getOrCreateDirect(randomId('c_'), userId, peer.id, Date.now(), request));
    // Tell every device of both sides about a conversation that is new to them (a request
    // reaches its recipient with its first message).
    if (conv.lastSeq === 0) await this.announce(conv.id, peer.id === userId ? [userId] : [userId, peer.id]);
    return this.get(conv.id, userId);
  }

  async createGroup(userId: string, rawName: string, usernames: readonly string[]): Promise<Conversation> {
    const name = cleanName(rawName, 'name');
    const users = (await this.resolveUsernames(usernames)).filter((u) => u.id !== userId);
    const total = users.length + 1;
    if (total < 2) throw new ParleyError('group_too_small');
    if (total > this.maxMembers) throw new ParleyError('group_full');
    await this.refuseBlocked(
      userId,
      users.map((u) => u.id),
    );
    await this.refuseNonContacts(userId, users);
    await this.checkQuota(userId);
    const conv = await this.conversations.createGroup(
      randomId('c_'),
      name,
      userId,
      users.map((u) => u.id),
      Date.now(),
    );
    await this.announce(conv.id, [userId, ...users.map((u) => u.id)]);
    return this.get(conv.id, userId);
  }

  async rename(userId: string, conversationId: string, rawName: string): Promise<Conversation> {
    await this.requireAdminOfGroup(conversationId, userId);
    await this.conversations.renameGroup(conversationId, cleanName(rawName, 'name'));
    await this.announceToAll(conversationId);
    return this.get(conversationId, userId);
  }

  async members(userId: string, conversationId: string): Promise<Member[]> {
    await this.requireMember(conversationId, userId);
    const rows = await this.conversations.listMembers(conversationId);
    const users = new Map(
      (await this.accounts.getUsersByIds(rows.map((r) => r.userId))).map((u) => [u.id, u]),
    );
    return rows.map((r) => {
      const u = users.get(r.userId);
      return {
        userId: r.userId,
        username: u?.username ?? '',
        displayName: u?.displayName ?? '',
        role: r.role,
        joinedAt: r.joinedAt,
        readSeq: r.readSeq,
        deliveredSeq: r.deliveredSeq,
      };
    });
  }

  async addMembers(userId: string, conversationId: string, usernames: readonly string[]): Promise<Member[]> {
    await this.requireAdminOfGroup(conversationId, userId);
    const users = await this.resolveUsernames(usernames);
    await this.refuseBlocked(
      userId,
      users.map((u) => u.id),
    );
    // Members already in the group are ignored, as the add ignores them.
    const current = new Set((await this.conversations.listMembers(conversationId)).map((m) => m.userId));
    await this.refuseNonContacts(
      userId,
      users.filter((u) => !current.has(u.id)),
    );
    await this.conversations.addMembers(
      conversationId,
      users.map((u) => u.id),
      this.maxMembers,
      Date.now(),
    );
    await this.announceToAll(conversationId);
    return this.members(userId, conversationId);
  }

  /** Remove a member (admins only), or leave when `targetId` is the caller. */
  async removeMember(userId: string, conversationId: string, targetId: string): Promise<void> {
    if (targetId === userId) {
      const me = await this.requireMember(conversationId, userId);
      const c = await this.conversations.getConversation(conversationId);
      if (!c || c.kind !== 'group') throw new ParleyError('not_group');
      await this.conversations.removeMember(conversationId, userId, { by: null, at: Date.now() });
      const rest = await this.conversations.listMembers(conversationId);
      // The last admin leaving hands the group to the longest-standing member.
      if (me.role === 'admin' && rest.length > 0 && !rest.some((m) => m.role === 'admin')) {
        await this.conversations.setRole(conversationId, (rest[0] as { userId: string }).userId, 'admin');
      }
    } else {
      await this.requireAdminOfGroup(conversationId, userId);
      if (!(await this.conversations.getMember(conversationId, targetId)))
        throw new ParleyError('not_found', 'Not a member');
      await this.conversations.removeMember(conversationId, targetId, { by: userId, at: Date.now() });
    }
    // The group stays in the former member's list, read-only (Conversation.left).
    const left = await this.conversations.getLeft(conversationId, targetId);
    const conv = left && (await this.leftConversation(left));
    if (conv) this.publish([targetId], { type: 'conversation', conversation: conv });
    await this.announceToAll(conversationId);
  }

  async promote(userId: string, conversationId: string, targetId: string): Promise<Member[]> {
    await this.requireAdminOfGroup(conversationId, userId);
    if (!(await this.conversations.getMember(conversationId, targetId)))
      throw new ParleyError('not_found', 'Not a member');
    await this.conversations.setRole(conversationId, targetId, 'admin');
    await this.announceToAll(conversationId);
    return this.members(userId, conversationId);
  }

  /**
   * Mute push notifications from a conversation for me until `until` (null: until I unmute;
   * a time in the past unmutes); with `mentions`, those that mention me too. My other devices
   * hear of it in a `conversation` frame.
   */
  async mute(
    userId: string,
    conversationId: string,
    until: number | null,
    mentions = false,
  ): Promise<Conversation> {
    const stored = until === null ? FOREVER : until <= Date.now() ? null : Math.min(until, FOREVER);
    if (!(await this.conversations.setMute(conversationId, userId, stored, mentions)))
      throw new ParleyError('not_found', 'No such conversation');
    await this.announce(conversationId, [userId]);
    return this.get(conversationId, userId);
  }

  /** Nobody can be put in a group by someone they blocked (or who blocked them). */
  private async refuseBlocked(userId: string, others: readonly string[]): Promise<void> {
    if ((await this.social.blockedAmong(userId, others)).length > 0) throw new ParleyError('blocked');
  }

  private publish(userIds: readonly string[], frame: ServerFrame): void {
    this.bus.publish({ type: 'deliver', userIds, frame: JSON.stringify(frame) });
  }

  /** Send each user's own view of the conversation to their devices. */
  private async announce(conversationId: string, userIds: readonly string[]): Promise<void> {
    for (const u of userIds) {
      const row = await this.conversations.getConversationSummary(conversationId, u);
      if (row) this.publish([u], { type: 'conversation', conversation: await this.toConversation(row, u) });
    }
  }

  private async announceToAll(conversationId: string): Promise<void> {
    const members = await this.conversations.listMembers(conversationId);
    await this.announce(
      conversationId,
      members.map((m) => m.userId),
    );
  }
}
