/**
 * PostgreSQL conversations: Conversations and their members, placed by conversation id, with each user's index of their conversations (`user_conversations`) placed by user id.
 */
import { ParleyError } from '@parley/protocol';
import type {
  ConversationRow,
  ConversationStore,
  ConversationSummaryRow,
  LeftRow,
  MemberRow,
} from '../store.js';
import { toConversation, toLeft, toMember, toSummary } from '../common/rows.js';
import type { ConversationDbRow, LeftDbRow, MemberDbRow, SummaryDbRow } from '../common/rows.js';
import { directKey } from '../common/direct-key.js';
import type { PgDatabase, PgShards } from './postgres-driver.js';

const SUMMARY_SELECT = `
  SELECT c.id, c.kind, c.name, c.created_at, c.last_activity_at, c.last_seq,
         m.role, m.read_seq, m.muted_until, m.request_seq,
         (SELECT count(*) FROM members x WHERE x.conversation_id = c.id) AS member_count,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.user_id, m.user_id) END AS peer_id,
         CASE WHEN c.kind = 'direct' THEN
           GREATEST(COALESCE(p.delivered_seq, m.delivered_seq), COALESCE(p.read_seq, m.read_seq))
         END AS peer_delivered_seq,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.read_seq, m.read_seq) END AS peer_read_seq,
         lm.pos AS m_pos, lm.id AS m_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
         lm.client_id AS m_client_id, lm.text AS m_text, lm.created_at AS m_created_at
  FROM members m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN members p ON c.kind = 'direct' AND p.conversation_id = c.id AND p.user_id <> m.user_id
  LEFT JOIN LATERAL (
    SELECT x.* FROM messages x WHERE x.conversation_id = c.id AND x.seq = c.last_seq LIMIT 1
  ) lm ON true`;

/** A member's conversation is in their list: not a request, or a request with a message not deleted. */
const REQUEST_SHOWN = '(m.request_seq IS NULL OR c.last_seq > m.request_seq)';

export class PgConversations implements ConversationStore {
  constructor(private readonly shards: PgShards) {}

  private get db(): PgDatabase {
    return this.shards.catalog;
  }

  getOrCreateDirect(
    id: string,
    userA: string,
    userB: string,
    now: number,
    request = false,
  ): Promise<ConversationRow> {
    const key = directKey(userA, userB);
    return this.db.transaction(async (c) => {
      // Two servers creating the same pair at once: the loser's insert waits for the
      // winner's commit, does nothing, and the SELECT below (a new snapshot under
      // READ COMMITTED) sees the winner's row.
      const created = await c.query(
        `INSERT INTO conversations
           (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by, blocked)
         VALUES ($1, 'direct', '', $2, $3, $3, 0, $4,
           -- A block from before the conversation existed refuses its appends too.
           EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $4 AND blocked_id = $5)
                                          OR (blocker_id = $5 AND blocked_id = $4)))
         ON CONFLICT (direct_key) DO NOTHING`,
        [id, key, now, userA, userB],
      );
      if (created.rowCount) {
        await c.query(
          `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, request_seq)
           SELECT $1, u, 'member', $2, 0, CASE WHEN u = $4 AND $5 THEN 0 END FROM unnest($3::text[]) AS u`,
          [id, now, userA === userB ? [userA] : [userA, userB], userB, request && userA !== userB],
        );
      }
      const { rows } = await c.query<ConversationDbRow>('SELECT * FROM conversations WHERE direct_key = $1', [
        key,
      ]);
      if (!rows[0]) throw new Error('direct conversation vanished');
      return toConversation(rows[0]);
    });
  }
  createGroup(
    id: string,
    name: string,
    creatorId: string,
    memberIds: readonly string[],
    now: number,
  ): Promise<ConversationRow> {
    const others = [...new Set(memberIds)].filter((u) => u !== creatorId);
    return this.db.transaction(async (c) => {
      const { rows } = await c.query<ConversationDbRow>(
        `INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by)
         VALUES ($1, 'group', $2, NULL, $3, $3, 0, $4) RETURNING *`,
        [id, name, now, creatorId],
      );
      await c.query(
        `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq)
         SELECT $1, v.u, v.role, $2, 0 FROM unnest($3::text[], $4::text[]) AS v(u, role)`,
        [id, now, [creatorId, ...others], ['admin', ...others.map(() => 'member')]],
      );
      if (!rows[0]) throw new Error('insert returned no row');
      return toConversation(rows[0]);
    });
  }
  async findDirect(userA: string, userB: string): Promise<ConversationRow | null> {
    const [r] = await this.db.rows<ConversationDbRow>('SELECT * FROM conversations WHERE direct_key = $1', [
      directKey(userA, userB),
    ]);
    return r ? toConversation(r) : null;
  }
  async createdSince(userId: string, since: number, limit: number): Promise<number[]> {
    const rows = await this.db.rows<{ created_at: number }>(
      `SELECT created_at FROM conversations WHERE created_by = $1 AND created_at >= $2
       ORDER BY created_at LIMIT $3`,
      [userId, since, limit],
    );
    return rows.map((r) => Number(r.created_at));
  }
  async acceptRequest(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.db.rows(
      `UPDATE members SET request_seq = NULL
       WHERE conversation_id = $1 AND user_id = $2 AND request_seq IS NOT NULL RETURNING user_id`,
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async dismissRequest(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.db.rows(
      `UPDATE members m SET request_seq = c.last_seq FROM conversations c
       WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2
         AND m.request_seq IS NOT NULL RETURNING m.user_id`,
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async getConversation(id: string): Promise<ConversationRow | null> {
    const [r] = await this.db.rows<ConversationDbRow>('SELECT * FROM conversations WHERE id = $1', [id]);
    return r ? toConversation(r) : null;
  }
  async renameGroup(id: string, name: string): Promise<void> {
    await this.db.rows(`UPDATE conversations SET name = $1 WHERE id = $2 AND kind = 'group'`, [name, id]);
  }
  async getMember(conversationId: string, userId: string): Promise<MemberRow | null> {
    const [r] = await this.db.rows<MemberDbRow>(
      'SELECT * FROM members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    return r ? toMember(r) : null;
  }
  async listMembers(conversationId: string): Promise<MemberRow[]> {
    const rows = await this.db.rows<MemberDbRow>(
      'SELECT * FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id',
      [conversationId],
    );
    return rows.map(toMember);
  }
  addMembers(
    conversationId: string,
    userIds: readonly string[],
    maxMembers: number,
    now: number,
  ): Promise<void> {
    return this.db.transaction(async (c) => {
      // Lock the conversation row so concurrent additions to one group (from any server)
      // count members one after another; otherwise two could each pass the limit check.
      // The lock also keeps appends out meanwhile, so a new member's feed of the
      // conversation starts exactly after its newest message.
      const { rows } = await c.query<{ last_seq: number; last_pos: number }>(
        'SELECT last_seq, last_pos FROM conversations WHERE id = $1 FOR UPDATE',
        [conversationId],
      );
      const conv = rows[0];
      if (!conv) return;
      const added = await c.query<{ n: number }>(
        `WITH ins AS (
           INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, joined_pos)
           SELECT $1, u, 'member', $2, $3, $5 FROM unnest($4::text[]) AS u
           ON CONFLICT DO NOTHING RETURNING 1
         ), back AS (
           DELETE FROM left_members WHERE conversation_id = $1 AND user_id = ANY($4::text[])
         )
         SELECT (SELECT count(*) FROM members WHERE conversation_id = $1) + (SELECT count(*) FROM ins) AS n`,
        [conversationId, now, conv.last_seq, userIds, conv.last_pos],
      );
      // Throwing rolls the transaction back: nobody is added.
      if ((added.rows[0]?.n ?? 0) > maxMembers) throw new ParleyError('group_full');
    });
  }
  removeMember(
    conversationId: string,
    userId: string,
    leave: { by?: string | null; at?: number } = {},
  ): Promise<void> {
    return this.db.transaction(async (c) => {
      // Appends wait meanwhile: what the member's feed had of the conversation ends at its
      // newest message now, and stays in their feed (`former_members`).
      await c.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      // The former membership (left_members) is kept only for a removal that happened (a
      // direct conversation has no leaving).
      await c.query(
        `WITH gone AS (
           DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id, joined_pos
         ), part AS (
           INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos)
           SELECT gone.user_id, c.id, gone.joined_pos, c.last_pos
           FROM gone JOIN conversations c ON c.id = $1 WHERE c.last_pos > gone.joined_pos
           ON CONFLICT DO NOTHING
         )
         INSERT INTO left_members (user_id, conversation_id, left_at, left_seq, left_by, name)
         SELECT gone.user_id, c.id, $3, c.last_seq, $4, c.name
         FROM gone JOIN conversations c ON c.id = $1 AND c.kind = 'group'
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET
           left_at = excluded.left_at, left_seq = excluded.left_seq, left_by = excluded.left_by,
           name = excluded.name`,
        [conversationId, userId, leave.at ?? Date.now(), leave.by ?? null],
      );
    });
  }
  async getLeft(conversationId: string, userId: string): Promise<LeftRow | null> {
    const [r] = await this.db.rows<LeftDbRow>(
      'SELECT * FROM left_members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    return r ? toLeft(r) : null;
  }
  async listLeft(userId: string): Promise<LeftRow[]> {
    const rows = await this.db.rows<LeftDbRow>(
      'SELECT * FROM left_members WHERE user_id = $1 ORDER BY left_at DESC, conversation_id',
      [userId],
    );
    return rows.map(toLeft);
  }
  async deleteLeft(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.db.rows(
      'DELETE FROM left_members WHERE conversation_id = $1 AND user_id = $2 RETURNING 1',
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async setRole(conversationId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    await this.db.rows('UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3', [
      role,
      conversationId,
      userId,
    ]);
  }
  async listConversations(userId: string, limit: number): Promise<ConversationSummaryRow[]> {
    const rows = await this.db.rows<SummaryDbRow>(
      `${SUMMARY_SELECT} WHERE m.user_id = $1 AND ${REQUEST_SHOWN}
       ORDER BY c.last_activity_at DESC, c.id LIMIT $2`,
      [userId, limit],
    );
    return rows.map(toSummary);
  }
  async getConversationSummary(
    conversationId: string,
    userId: string,
  ): Promise<ConversationSummaryRow | null> {
    const [r] = await this.db.rows<SummaryDbRow>(
      `${SUMMARY_SELECT} WHERE m.user_id = $1 AND c.id = $2 AND ${REQUEST_SHOWN}`,
      [userId, conversationId],
    );
    return r ? toSummary(r) : null;
  }

  async setMute(conversationId: string, userId: string, until: number | null): Promise<boolean> {
    const rows = await this.db.rows(
      'UPDATE members SET muted_until = $1 WHERE conversation_id = $2 AND user_id = $3 RETURNING user_id',
      [until, conversationId, userId],
    );
    return rows.length > 0;
  }
}
