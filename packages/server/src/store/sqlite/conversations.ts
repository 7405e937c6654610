/**
 * Conversations on the embedded store: direct and group conversations, members and roles,
 * message requests, a former member's hold on a group they left, mutes.
 */
import { ParleyError } from '@parley/protocol';
import type {
  ConversationRow,
  ConversationStore,
  ConversationSummaryRow,
  LeftRow,
  MemberRow,
} from '../store.js';
import { toConversation, toLeft, toMember, toSummary, unreadCountSql } from '../common/rows.js';
import type { ConversationDbRow, LeftDbRow, MemberDbRow, SummaryDbRow } from '../common/rows.js';
import { directKey } from '../common/direct-key.js';
import type { SqliteDriver } from './sqlite-driver.js';
import type { SqliteMessages } from './messages.js';
import type { SqliteSocial } from './social.js';

const SUMMARY_SELECT = `
  SELECT c.id, c.kind, c.name, c.created_at, c.last_activity_at, c.last_seq,
         m.role, m.read_seq, m.muted_until, m.mute_mentions, m.request_seq,
         (SELECT COUNT(*) FROM members x WHERE x.conversation_id = c.id) AS member_count,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.user_id, m.user_id) END AS peer_id,
         CASE WHEN c.kind = 'direct' THEN MAX(COALESCE(p.delivered_seq, m.delivered_seq), COALESCE(p.read_seq, m.read_seq)) END AS peer_delivered_seq,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.read_seq, m.read_seq) END AS peer_read_seq,
         lm.pos AS m_pos, lm.id AS m_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
         lm.client_id AS m_client_id, lm.text AS m_text, lm.created_at AS m_created_at,
         lm.edited_at AS m_edited_at, lm.deleted AS m_deleted,
         ${unreadCountSql('m')} AS unread
  FROM members m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN members p ON c.kind = 'direct' AND p.conversation_id = c.id AND p.user_id <> m.user_id
  LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = (SELECT x.seq FROM messages x
    WHERE x.conversation_id = c.id AND x.kind = 'text' ORDER BY x.seq DESC LIMIT 1)`;

/** A member's conversation is in their list: not a request, or a request with a message not deleted. */
const REQUEST_SHOWN = '(m.request_seq IS NULL OR c.last_seq > m.request_seq)';

type Role = 'admin' | 'member';

function statements(d: SqliteDriver) {
  return {
    directByKey: d.prepare<[key: string], ConversationDbRow>(
      'SELECT * FROM conversations WHERE direct_key = ?',
    ),
    insertConversation: d.prepare<
      [
        id: string,
        kind: 'direct' | 'group',
        name: string,
        key: string | null,
        createdAt: number,
        lastActivityAt: number,
        createdBy: string,
      ]
    >(
      `INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
    ),
    createdSince: d.pluck<[userId: string, since: number, limit: number], number>(
      'SELECT created_at FROM conversations WHERE created_by = ? AND created_at >= ? ORDER BY created_at LIMIT ?',
    ),
    setRequest: d.prepare<[c: string, u: string]>(
      'UPDATE members SET request_seq = 0 WHERE conversation_id = ? AND user_id = ?',
    ),
    acceptRequest: d.prepare<[c: string, u: string]>(
      'UPDATE members SET request_seq = NULL WHERE conversation_id = ? AND user_id = ? AND request_seq IS NOT NULL',
    ),
    dismissRequest: d.prepare<{ c: string; u: string }>(
      `UPDATE members SET request_seq = (SELECT last_seq FROM conversations WHERE id = @c)
       WHERE conversation_id = @c AND user_id = @u AND request_seq IS NOT NULL`,
    ),
    // A member's feed of the conversation starts after its newest message (joined_pos).
    insertMember: d.prepare<{ c: string; u: string; role: Role; at: number }>(
      `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, joined_pos)
       SELECT @c, @u, @role, @at, last_seq, last_pos FROM conversations WHERE id = @c
       ON CONFLICT DO NOTHING`,
    ),
    conversationById: d.prepare<[id: string], ConversationDbRow>('SELECT * FROM conversations WHERE id = ?'),
    renameGroup: d.prepare<[name: string, id: string]>(
      "UPDATE conversations SET name = ? WHERE id = ? AND kind = 'group'",
    ),
    member: d.prepare<[c: string, u: string], MemberDbRow>(
      'SELECT * FROM members WHERE conversation_id = ? AND user_id = ?',
    ),
    members: d.prepare<[c: string], MemberDbRow>(
      'SELECT * FROM members WHERE conversation_id = ? ORDER BY joined_at, user_id',
    ),
    memberCount: d.pluck<[c: string], number>('SELECT COUNT(*) FROM members WHERE conversation_id = ?'),
    removeMember: d.prepare<[c: string, u: string]>(
      'DELETE FROM members WHERE conversation_id = ? AND user_id = ?',
    ),
    // What a removed member's feed had of the conversation stays in it (protocol.md, `pos`).
    keepFormer: d.prepare<[c: string, u: string]>(
      `INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos)
       SELECT m.user_id, m.conversation_id, m.joined_pos, c.last_pos
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = ? AND m.user_id = ? AND c.last_pos > m.joined_pos
       ON CONFLICT DO NOTHING`,
    ),
    // Only group memberships are kept (a direct conversation has no leaving).
    keepLeft: d.prepare<{ c: string; u: string; at: number; by: string | null }>(
      `INSERT INTO left_members (user_id, conversation_id, left_at, left_seq, left_by, name)
       SELECT m.user_id, c.id, @at, c.last_seq, @by, c.name
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = @c AND m.user_id = @u AND c.kind = 'group'
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET
         left_at = excluded.left_at, left_seq = excluded.left_seq, left_by = excluded.left_by,
         name = excluded.name`,
    ),
    left: d.prepare<[c: string, u: string], LeftDbRow>(
      'SELECT * FROM left_members WHERE conversation_id = ? AND user_id = ?',
    ),
    listLeft: d.prepare<[u: string], LeftDbRow>(
      'SELECT * FROM left_members WHERE user_id = ? ORDER BY left_at DESC, conversation_id',
    ),
    deleteLeft: d.prepare<[c: string, u: string]>(
      'DELETE FROM left_members WHERE conversation_id = ? AND user_id = ?',
    ),
    setRole: d.prepare<[role: Role, c: string, u: string]>(
      'UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?',
    ),
    listConversations: d.prepare<[u: string, limit: number], SummaryDbRow>(
      `${SUMMARY_SELECT} WHERE m.user_id = ? AND ${REQUEST_SHOWN}
       ORDER BY c.last_activity_at DESC, c.id LIMIT ?`,
    ),
    summary: d.prepare<[u: string, c: string], SummaryDbRow>(
      `${SUMMARY_SELECT} WHERE m.user_id = ? AND c.id = ? AND ${REQUEST_SHOWN}`,
    ),
    setMute: d.prepare<[until: number | null, mentions: number, c: string, u: string]>(
      'UPDATE members SET muted_until = ?, mute_mentions = ? WHERE conversation_id = ? AND user_id = ?',
    ),
  };
}

export class SqliteConversations implements ConversationStore {
  private readonly s: ReturnType<typeof statements>;

  constructor(
    private readonly d: SqliteDriver,
    /** Member changes drop the conversation's cached append state. */
    private readonly messages: Pick<SqliteMessages, 'forgetConversation'>,
    /** A new direct conversation takes the blocks between its users. */
    private readonly social: Pick<SqliteSocial, 'flagDirectIfBlocked'>,
  ) {
    this.s = statements(d);
  }

  async getOrCreateDirect(
    id: string,
    userA: string,
    userB: string,
    now: number,
    request = false,
  ): Promise<ConversationRow> {
    const key = directKey(userA, userB);
    return this.d.writeTx(() => {
      const existing = this.s.directByKey.get(key);
      if (existing) return toConversation(existing);
      this.s.insertConversation.run(id, 'direct', '', key, now, now, userA);
      this.s.insertMember.run({ c: id, u: userA, role: 'member', at: now });
      if (userB !== userA) {
        this.s.insertMember.run({ c: id, u: userB, role: 'member', at: now });
        if (request) this.s.setRequest.run(id, userB);
        // A block from before the conversation existed refuses its appends too.
        this.social.flagDirectIfBlocked(userA, userB);
      }
      return toConversation(this.s.conversationById.get(id) as ConversationDbRow);
    })();
  }
  async findDirect(userA: string, userB: string): Promise<ConversationRow | null> {
    const r = this.s.directByKey.get(directKey(userA, userB));
    return r ? toConversation(r) : null;
  }
  async createdSince(userId: string, since: number, limit: number): Promise<number[]> {
    return this.s.createdSince.all(userId, since, limit);
  }
  async acceptRequest(conversationId: string, userId: string): Promise<boolean> {
    return this.s.acceptRequest.run(conversationId, userId).changes > 0;
  }
  async dismissRequest(conversationId: string, userId: string): Promise<boolean> {
    return this.s.dismissRequest.run({ c: conversationId, u: userId }).changes > 0;
  }
  async createGroup(
    id: string,
    name: string,
    creatorId: string,
    memberIds: readonly string[],
    now: number,
  ): Promise<ConversationRow> {
    return this.d.writeTx(() => {
      this.s.insertConversation.run(id, 'group', name, null, now, now, creatorId);
      this.s.insertMember.run({ c: id, u: creatorId, role: 'admin', at: now });
      for (const u of memberIds)
        if (u !== creatorId) this.s.insertMember.run({ c: id, u, role: 'member', at: now });
      return toConversation(this.s.conversationById.get(id) as ConversationDbRow);
    })();
  }
  async getConversation(id: string): Promise<ConversationRow | null> {
    const r = this.s.conversationById.get(id);
    return r ? toConversation(r) : null;
  }
  async renameGroup(id: string, name: string): Promise<void> {
    this.s.renameGroup.run(name, id);
  }
  async getMember(conversationId: string, userId: string): Promise<MemberRow | null> {
    const r = this.s.member.get(conversationId, userId);
    return r ? toMember(r) : null;
  }
  async listMembers(conversationId: string): Promise<MemberRow[]> {
    return this.s.members.all(conversationId).map(toMember);
  }
  async addMembers(
    conversationId: string,
    userIds: readonly string[],
    maxMembers: number,
    now: number,
  ): Promise<void> {
    this.messages.forgetConversation(conversationId);
    this.d.writeTx(() => {
      for (const u of userIds) {
        this.s.insertMember.run({ c: conversationId, u, role: 'member', at: now });
        this.s.deleteLeft.run(conversationId, u);
      }
      if ((this.s.memberCount.get(conversationId) ?? 0) > maxMembers) throw new ParleyError('group_full');
    })();
  }
  async removeMember(
    conversationId: string,
    userId: string,
    leave: { by?: string | null; at?: number } = {},
  ): Promise<void> {
    this.d.writeTx(() => {
      this.s.keepLeft.run({ c: conversationId, u: userId, at: leave.at ?? Date.now(), by: leave.by ?? null });
      this.s.keepFormer.run(conversationId, userId);
      this.s.removeMember.run(conversationId, userId);
    })();
    this.messages.forgetConversation(conversationId);
  }
  async getLeft(conversationId: string, userId: string): Promise<LeftRow | null> {
    const r = this.s.left.get(conversationId, userId);
    return r ? toLeft(r) : null;
  }
  async listLeft(userId: string): Promise<LeftRow[]> {
    return this.s.listLeft.all(userId).map(toLeft);
  }
  async deleteLeft(conversationId: string, userId: string): Promise<boolean> {
    return this.s.deleteLeft.run(conversationId, userId).changes > 0;
  }
  async setRole(conversationId: string, userId: string, role: Role): Promise<void> {
    this.s.setRole.run(role, conversationId, userId);
  }
  async listConversations(userId: string, limit: number): Promise<ConversationSummaryRow[]> {
    return this.s.listConversations.all(userId, limit).map(toSummary);
  }
  async getConversationSummary(
    conversationId: string,
    userId: string,
  ): Promise<ConversationSummaryRow | null> {
    const r = this.s.summary.get(userId, conversationId);
    return r ? toSummary(r) : null;
  }
  async setMute(
    conversationId: string,
    userId: string,
    until: number | null,
    mentions = false,
  ): Promise<boolean> {
    const muteMentions = until !== null && mentions ? 1 : 0;
    return this.s.setMute.run(until, muteMentions, conversationId, userId).changes > 0;
  }
}
