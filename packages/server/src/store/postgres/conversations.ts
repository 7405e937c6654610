/**
 * PostgreSQL conversations: conversations, their members and requests on the conversation's
 * database; each user's index of their conversations (`user_conversations`) and former
 * memberships (`left_members`) on the user's database; a pair's direct conversation
 * (`direct_pairs`) on the database of the pair's key. Index rows are written before the
 * conversation's own rows and read through them, so a crash in between leaves only index
 * rows that lead nowhere.
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
import type { QueryResultRow } from 'pg';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';

const SUMMARY_SELECT = `
  SELECT c.id, c.kind, c.name, c.created_at, c.last_activity_at, c.last_seq,
         m.role, m.read_seq, m.muted_until, m.mute_mentions, m.request_seq,
         (SELECT count(*) FROM members x WHERE x.conversation_id = c.id) AS member_count,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.user_id, m.user_id) END AS peer_id,
         CASE WHEN c.kind = 'direct' THEN
           GREATEST(COALESCE(p.delivered_seq, m.delivered_seq), COALESCE(p.read_seq, m.read_seq))
         END AS peer_delivered_seq,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.read_seq, m.read_seq) END AS peer_read_seq,
         lm.pos AS m_pos, lm.id AS m_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
         lm.client_id AS m_client_id, lm.text AS m_text, lm.created_at AS m_created_at,
         lm.edited_at AS m_edited_at, lm.deleted AS m_deleted,
         ${unreadCountSql('m')} AS unread
  FROM members m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN members p ON c.kind = 'direct' AND p.conversation_id = c.id AND p.user_id <> m.user_id
  LEFT JOIN LATERAL (
    SELECT x.* FROM messages x WHERE x.conversation_id = c.id AND x.kind = 'text' ORDER BY x.seq DESC LIMIT 1
  ) lm ON true`;

/** A member's conversation is in their list: not a request, or a request with a message not deleted. */
const REQUEST_SHOWN = '(m.request_seq IS NULL OR c.last_seq > m.request_seq)';

/** A transaction open on one database: statements for that database join it. */
interface Tx {
  db: PgDatabase;
  c: Queryable;
}

/** Rows of a statement on `db`: inside `tx` when it is open there, else on its own. */
async function query<R extends QueryResultRow>(
  db: PgDatabase,
  tx: Tx | null,
  text: string,
  values: unknown[],
): Promise<R[]> {
  if (tx?.db === db) return (await tx.c.query<R>(text, values)).rows;
  return db.rows<R>(text, values);
}

/** What a user's index row says of a new conversation. */
interface NewIndexRow {
  userId: string;
  /** The other member of a direct conversation (the user for a note-to-self); null for a group. */
  peerId: string | null;
  creator: boolean;
}
interface IndexedConversation {
  id: string;
  shard: number;
  kind: 'direct' | 'group';
  createdAt: number;
}

export class PgConversations implements ConversationStore {
  constructor(private readonly shards: PgShards) {}

  async getOrCreateDirect(
    id: string,
    userA: string,
    userB: string,
    now: number,
    request = false,
  ): Promise<ConversationRow> {
    const key = directKey(userA, userB);
    const pairs = this.shards.of(key);
    // The pair names the conversation: the first call to insert it wins. A loser's insert
    // waits for the winner's commit and does nothing; its SELECT (a new statement, so a new
    // snapshot under READ COMMITTED) sees the winner's row.
    const won =
      (
        await pairs.rows(
          'INSERT INTO direct_pairs (direct_key, conversation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1',
          [key, id],
        )
      ).length > 0;
    let conversationId = id;
    if (!won) {
      const [pair] = await pairs.rows<{ conversation_id: string }>(
        'SELECT conversation_id FROM direct_pairs WHERE direct_key = $1',
        [key],
      );
      if (!pair) throw new Error('direct pair vanished');
      conversationId = pair.conversation_id;
      // Its creator wrote the index rows before the conversation: nothing is missing.
      const existing = await this.getConversation(conversationId);
      if (existing) return existing;
      // Not there (yet): its creator is still at it, or crashed after the pair. Either way the
      // steps below, idempotent, make it exist.
    }
    const users = userA === userB ? [userA] : [userA, userB];
    const shard = this.shards.shardOf(conversationId);
    const [, blocked] = await Promise.all([
      this.writeIndex(
        { id: conversationId, shard, kind: 'direct', createdAt: now },
        users.map((u) => ({ userId: u, peerId: u === userA ? userB : userA, creator: won && u === userA })),
      ),
      // A block from before the conversation existed refuses its appends too.
      this.blockedEitherWay(userA, userB, null),
    ]);
    const db = this.shards.of(conversationId);
    const { row, created } = await db.transaction(async (c) => {
      const inserted = await c.query(
        `INSERT INTO conversations
           (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by, blocked, shard)
         VALUES ($1, 'direct', '', $2, $3, $3, 0, $4, $5, $6)
         ON CONFLICT DO NOTHING`,
        [conversationId, key, now, userA, blocked, shard],
      );
      if (inserted.rowCount) {
        await c.query(
          `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, request_seq)
           SELECT $1, u, 'member', $2, 0, CASE WHEN u = $4 AND $5 THEN 0 END FROM unnest($3::text[]) AS u`,
          [conversationId, now, users, userB, request && userA !== userB],
        );
      }
      const { rows } = await c.query<ConversationDbRow>('SELECT * FROM conversations WHERE id = $1', [
        conversationId,
      ]);
      return { row: rows[0], created: Boolean(inserted.rowCount) };
    });
    if (!row) throw new Error('direct conversation vanished');
    if (created) await this.recheckBlocked(db, conversationId, userA, userB);
    return toConversation(row);
  }

  /**
   * Set a new direct conversation's `blocked` from the blocks as they are now. A block (or
   * unblock) written while the conversation was being created looked for it before it was
   * committed, found nothing to update, and the check before the insert may have read the
   * blocks before it: reading them again after the commit cannot miss it. Under the row lock,
   * so that a block's own update of the flag meanwhile waits and lands after this one.
   */
  private recheckBlocked(
    db: PgDatabase,
    conversationId: string,
    userA: string,
    userB: string,
  ): Promise<void> {
    return db.transaction(async (c) => {
      const { rows } = await c.query<{ blocked: boolean }>(
        'SELECT blocked FROM conversations WHERE id = $1 FOR UPDATE',
        [conversationId],
      );
      const was = rows[0]?.blocked;
      if (was === undefined) return;
      const blocked = await this.blockedEitherWay(userA, userB, { db, c });
      if (blocked !== was)
        await c.query('UPDATE conversations SET blocked = $2 WHERE id = $1', [conversationId, blocked]);
    });
  }

  /** Whether either user blocks the other: each block is on its blocker's database. */
  private async blockedEitherWay(a: string, b: string, tx: Tx | null): Promise<boolean> {
    const ways: [blocker: string, blocked: string][] =
      a === b
        ? [[a, b]]
        : [
            [a, b],
            [b, a],
          ];
    const found = await Promise.all(
      [...this.shards.group(ways, ([blocker]) => blocker)].map(async ([db, part]) => {
        const [r] = await query<{ n: number }>(
          db,
          tx,
          `SELECT count(*)::int AS n FROM blocks b
           JOIN unnest($1::text[], $2::text[]) AS v(blocker, blocked)
             ON b.blocker_id = v.blocker AND b.blocked_id = v.blocked`,
          [part.map((p) => p.item[0]), part.map((p) => p.item[1])],
        );
        return (r?.n ?? 0) > 0;
      }),
    );
    return found.some(Boolean);
  }

  /**
   * The index rows of a new conversation's members, on each member's database, before the
   * conversation exists. Written again by a call that finishes another's creation: the
   * creator's flag and time are kept from whichever call won the pair.
   */
  private async writeIndex(conv: IndexedConversation, rows: readonly NewIndexRow[]): Promise<void> {
    await Promise.all(
      [...this.shards.group(rows, (r) => r.userId)].map(([db, part]) =>
        db.rows(
          `INSERT INTO user_conversations AS uc
             (user_id, conversation_id, shard, kind, peer_id, member, created_at, creator)
           SELECT v.u, $1, $2, $3, v.peer, true, $4, v.creator
           FROM unnest($5::text[], $6::text[], $7::bool[]) AS v(u, peer, creator)
           ON CONFLICT (user_id, conversation_id) DO UPDATE SET creator = true, created_at = excluded.created_at
             WHERE excluded.creator AND NOT uc.creator`,
          [
            conv.id,
            conv.shard,
            conv.kind,
            conv.createdAt,
            part.map((p) => p.item.userId),
            part.map((p) => p.item.peerId),
            part.map((p) => p.item.creator),
          ],
        ),
      ),
    );
  }

  async createGroup(
    id: string,
    name: string,
    creatorId: string,
    memberIds: readonly string[],
    now: number,
  ): Promise<ConversationRow> {
    const others = [...new Set(memberIds)].filter((u) => u !== creatorId);
    const shard = this.shards.shardOf(id);
    await this.writeIndex(
      { id, shard, kind: 'group', createdAt: now },
      [creatorId, ...others].map((u) => ({ userId: u, peerId: null, creator: u === creatorId })),
    );
    return this.shards.of(id).transaction(async (c) => {
      const { rows } = await c.query<ConversationDbRow>(
        `INSERT INTO conversations
           (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by, shard)
         VALUES ($1, 'group', $2, NULL, $3, $3, 0, $4, $5) RETURNING *`,
        [id, name, now, creatorId, shard],
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
    const key = directKey(userA, userB);
    const [pair] = await this.shards
      .of(key)
      .rows<{ conversation_id: string }>('SELECT conversation_id FROM direct_pairs WHERE direct_key = $1', [
        key,
      ]);
    // A pair whose conversation is missing (its creator crashed) is none yet.
    return pair ? this.getConversation(pair.conversation_id) : null;
  }
  async createdSince(userId: string, since: number, limit: number): Promise<number[]> {
    // From the creator's index rows: a creation that crashed before its conversation was
    // written still counts against the quota, which errs on the safe side.
    const rows = await this.shards.of(userId).rows<{ created_at: number }>(
      `SELECT created_at FROM user_conversations WHERE user_id = $1 AND creator AND created_at >= $2
       ORDER BY created_at LIMIT $3`,
      [userId, since, limit],
    );
    return rows.map((r) => Number(r.created_at));
  }
  async acceptRequest(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.shards.of(conversationId).rows(
      `UPDATE members SET request_seq = NULL
       WHERE conversation_id = $1 AND user_id = $2 AND request_seq IS NOT NULL RETURNING user_id`,
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async dismissRequest(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.shards.of(conversationId).rows(
      `UPDATE members m SET request_seq = c.last_seq FROM conversations c
       WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2
         AND m.request_seq IS NOT NULL RETURNING m.user_id`,
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async getConversation(id: string): Promise<ConversationRow | null> {
    const [r] = await this.shards
      .of(id)
      .rows<ConversationDbRow>('SELECT * FROM conversations WHERE id = $1', [id]);
    return r ? toConversation(r) : null;
  }
  async renameGroup(id: string, name: string): Promise<void> {
    await this.shards
      .of(id)
      .rows(`UPDATE conversations SET name = $1 WHERE id = $2 AND kind = 'group'`, [name, id]);
  }
  async getMember(conversationId: string, userId: string): Promise<MemberRow | null> {
    const [r] = await this.shards
      .of(conversationId)
      .rows<MemberDbRow>('SELECT * FROM members WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ]);
    return r ? toMember(r) : null;
  }
  async listMembers(conversationId: string): Promise<MemberRow[]> {
    const rows = await this.shards
      .of(conversationId)
      .rows<MemberDbRow>('SELECT * FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id', [
        conversationId,
      ]);
    return rows.map(toMember);
  }
  addMembers(
    conversationId: string,
    userIds: readonly string[],
    maxMembers: number,
    now: number,
  ): Promise<void> {
    const users = [...new Set(userIds)];
    const db = this.shards.of(conversationId);
    return db.transaction(async (c) => {
      // Lock the conversation row so concurrent additions to one group (from any server)
      // count members one after another; otherwise two could each pass the limit check.
      // The lock also keeps appends out meanwhile, so a new member's feed of the
      // conversation starts exactly after its newest message; and it orders the members'
      // index rows, written meanwhile, with a removal's (see removeMember).
      const { rows } = await c.query<IndexedConversation & { last_seq: number; last_pos: number }>(
        `SELECT id, shard, kind, created_at AS "createdAt", last_seq, last_pos
         FROM conversations WHERE id = $1 FOR UPDATE`,
        [conversationId],
      );
      const conv = rows[0];
      if (!conv) return;
      const [count] = (
        await c.query<{ n: number; present: number }>(
          `SELECT count(*)::int AS n, (count(*) FILTER (WHERE user_id = ANY($2::text[])))::int AS present
           FROM members WHERE conversation_id = $1`,
          [conversationId, users],
        )
      ).rows;
      // Refused before anything is written: the other databases' writes below would not roll
      // back with this transaction.
      if ((count?.n ?? 0) + users.length - (count?.present ?? 0) > maxMembers)
        throw new ParleyError('group_full');
      // Index rows first, on each user's database; an added former member's hold goes.
      await Promise.all(
        [...this.shards.group(users, (u) => u)].map(([userDb, part]) =>
          query(
            userDb,
            { db, c },
            `WITH idx AS (
               INSERT INTO user_conversations AS uc
                 (user_id, conversation_id, shard, kind, peer_id, member, created_at, creator)
               SELECT u, $1, $2, $3, NULL, true, $4, false FROM unnest($5::text[]) AS u
               ON CONFLICT (user_id, conversation_id) DO UPDATE SET member = true
             )
             DELETE FROM left_members WHERE conversation_id = $1 AND user_id = ANY($5::text[])`,
            [conv.id, conv.shard, conv.kind, conv.createdAt, part.map((p) => p.item)],
          ),
        ),
      );
      await c.query(
        `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, joined_pos)
         SELECT $1, u, 'member', $2, $3, $5 FROM unnest($4::text[]) AS u
         ON CONFLICT DO NOTHING`,
        [conversationId, now, conv.last_seq, users, conv.last_pos],
      );
    });
  }
  async removeMember(
    conversationId: string,
    userId: string,
    leave: { by?: string | null; at?: number } = {},
  ): Promise<void> {
    const db = this.shards.of(conversationId);
    const userDb = this.shards.of(userId);
    const left = { at: leave.at ?? Date.now(), by: leave.by ?? null };
    // On one database, both sides in one transaction.
    const together = userDb === db;
    const gone = await db.transaction(async (c) => {
      // Appends wait meanwhile: what the member's feed had of the conversation ends at its
      // newest message now, and stays in their feed (`former_members`).
      await c.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      const { rows } = await c.query<Gone>(
        `WITH gone AS (
           DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id, joined_pos
         ), part AS (
           INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos)
           SELECT gone.user_id, c.id, gone.joined_pos, c.last_pos
           FROM gone JOIN conversations c ON c.id = $1 WHERE c.last_pos > gone.joined_pos
           ON CONFLICT DO NOTHING
         )
         SELECT c.kind, c.name, c.last_seq FROM gone JOIN conversations c ON c.id = $1`,
        [conversationId, userId],
      );
      const g = rows[0];
      if (g && together) await this.leftSide(conversationId, userId, g, left, { db, c });
      return g;
    });
    if (!gone || together) return;
    // Then the user's side, under the row lock again: an addition of the user meanwhile (which
    // writes their index row under it) has the last word, so the index never says "not a
    // member" of someone who is. A crash before this leaves an index row that says "member":
    // harmless, readers go through the members.
    await db.transaction(async (c) => {
      await c.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      const { rows } = await c.query('SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ]);
      if (rows.length === 0) await this.leftSide(conversationId, userId, gone, left, { db, c });
    });
  }

  /**
   * A removed member's side, on their database: their index row says they left (it stays: their
   * feed keeps a part of the conversation there), and of a group they keep a read-only hold
   * (the former membership; a direct conversation has no leaving). A hold from an older
   * removal never replaces a newer one.
   */
  private async leftSide(
    conversationId: string,
    userId: string,
    gone: Gone,
    left: { at: number; by: string | null },
    tx: Tx,
  ): Promise<void> {
    await query(
      this.shards.of(userId),
      tx,
      `WITH idx AS (
         UPDATE user_conversations SET member = false WHERE user_id = $1 AND conversation_id = $2
       )
       INSERT INTO left_members AS l (user_id, conversation_id, left_at, left_seq, left_by, name)
       SELECT $1, $2, $3, $4, $5, $6 WHERE $7
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET
         left_at = excluded.left_at, left_seq = excluded.left_seq, left_by = excluded.left_by,
         name = excluded.name
       WHERE l.left_seq <= excluded.left_seq`,
      [userId, conversationId, left.at, gone.last_seq, left.by, gone.name, gone.kind === 'group'],
    );
  }
  async getLeft(conversationId: string, userId: string): Promise<LeftRow | null> {
    const [r] = await this.shards
      .of(userId)
      .rows<LeftDbRow>('SELECT * FROM left_members WHERE conversation_id = $1 AND user_id = $2', [
        conversationId,
        userId,
      ]);
    return r ? toLeft(r) : null;
  }
  async listLeft(userId: string): Promise<LeftRow[]> {
    const rows = await this.shards
      .of(userId)
      .rows<LeftDbRow>(
        'SELECT * FROM left_members WHERE user_id = $1 ORDER BY left_at DESC, conversation_id',
        [userId],
      );
    return rows.map(toLeft);
  }
  async deleteLeft(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.shards
      .of(userId)
      .rows('DELETE FROM left_members WHERE conversation_id = $1 AND user_id = $2 RETURNING 1', [
        conversationId,
        userId,
      ]);
    return rows.length > 0;
  }
  async setRole(conversationId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    await this.shards
      .of(conversationId)
      .rows('UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3', [
        role,
        conversationId,
        userId,
      ]);
  }
  async listConversations(userId: string, limit: number): Promise<ConversationSummaryRow[]> {
    if (this.shards.single) {
      const rows = await this.shards.catalog.rows<SummaryDbRow>(
        `${SUMMARY_SELECT} WHERE m.user_id = $1 AND ${REQUEST_SHOWN}
         ORDER BY c.last_activity_at DESC, c.id LIMIT $2`,
        [userId, limit],
      );
      return rows.map(toSummary);
    }
    // The user's conversations from their index, then each database's most active `limit`
    // of them (through the members: an index row left by a crash matches none), merged.
    const ids = await this.shards
      .of(userId)
      .rows<{ conversation_id: string }>(
        'SELECT conversation_id FROM user_conversations WHERE user_id = $1 AND member',
        [userId],
      );
    const parts = await Promise.all(
      [...this.shards.group(ids, (r) => r.conversation_id)].map(([db, part]) =>
        db.rows<SummaryDbRow>(
          `${SUMMARY_SELECT} WHERE m.user_id = $1 AND c.id = ANY($2::text[]) AND ${REQUEST_SHOWN}
           ORDER BY c.last_activity_at DESC, c.id LIMIT $3`,
          [userId, part.map((p) => p.item.conversation_id), limit],
        ),
      ),
    );
    return parts
      .flat()
      .sort((a, b) => b.last_activity_at - a.last_activity_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
      .map(toSummary);
  }
  async getConversationSummary(
    conversationId: string,
    userId: string,
  ): Promise<ConversationSummaryRow | null> {
    const [r] = await this.shards
      .of(conversationId)
      .rows<SummaryDbRow>(`${SUMMARY_SELECT} WHERE m.user_id = $1 AND c.id = $2 AND ${REQUEST_SHOWN}`, [
        userId,
        conversationId,
      ]);
    return r ? toSummary(r) : null;
  }

  async setMute(
    conversationId: string,
    userId: string,
    until: number | null,
    mentions = false,
  ): Promise<boolean> {
    const rows = await this.shards.of(conversationId).rows(
      `UPDATE members SET muted_until = $1, mute_mentions = $2
         WHERE conversation_id = $3 AND user_id = $4 RETURNING user_id`,
      [until, until !== null && mentions, conversationId, userId],
    );
    return rows.length > 0;
  }
}

/** What a removal took from the conversation's database for the member's side. */
interface Gone {
  kind: 'direct' | 'group';
  name: string;
  last_seq: number;
}
