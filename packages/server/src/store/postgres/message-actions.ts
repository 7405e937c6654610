/**
 * Message actions on PostgreSQL: a batch part with events or replies is appended in a
 * transaction that locks its conversations, reads what the rules need, appends what they
 * allow through `parley_append_batch`, and folds each stored event into its target, all on
 * the conversation's database. Also the reads of folded messages.
 */
import type { Attachment, ErrorCode, Message, MessageListPage } from '@parley/protocol';
import type { AppendResult, ListRead, NewMessage } from '../store.js';
import { foldTarget, kindOf, refusal, searchTextOf, targetOf } from '../common/message-rules.js';
import type { Actor, TargetState } from '../common/message-rules.js';
import { isBefore, listCursor, parseListCursor } from '../common/list-cursor.js';
import { pairKey } from '../common/pair-key.js';
import { replySnippet } from '../common/rows.js';
import { tsVector } from '../common/search-text.js';
import type { PgShards, Queryable } from './postgres-driver.js';

/**
 * A content message `m` (joined with its replied-to message `r`) as the JSON of a protocol
 * Message in its folded state, as the user in parameter `u` sees it.
 */
export const messageJson = (u: string) => `json_strip_nulls(json_build_object('id', m.id,
    'conversationId', m.conversation_id, 'seq', m.seq, 'pos', m.pos, 'senderId', m.sender_id,
    'clientId', m.client_id, 'kind', m.kind, 'text', m.text, 'createdAt', m.created_at,
    'editedAt', m.edited_at, 'deleted', CASE WHEN m.deleted THEN true END,
    'replyTo', CASE WHEN r.seq IS NOT NULL THEN json_build_object('seq', r.seq, 'senderId', r.sender_id,
      'text', CASE WHEN r.deleted THEN '' ELSE left(r.text, 200) END,
      'deleted', CASE WHEN r.deleted THEN true END) END,
    'forwarded', CASE WHEN m.forwarded THEN true END,
    'mentions', m.mentions::json,
    'attachments', m.attachments::json,
    'preview', m.preview::json,
    'reactions', (SELECT json_agg(json_build_object('emoji', x.emoji, 'count', x.n, 'userIds', x.u) ORDER BY x.f, x.emoji)
      FROM (SELECT emoji, count(*) AS n, json_agg(user_id ORDER BY created_at, user_id) AS u, min(created_at) AS f
            FROM reactions WHERE conversation_id = m.conversation_id AND seq = m.seq GROUP BY emoji) x),
    'pinnedAt', m.pinned_at,
    'saved', CASE WHEN EXISTS (SELECT 1 FROM message_marks k WHERE k.user_id = ${u} AND k.mark = 'save'
      AND k.conversation_id = m.conversation_id AND k.seq = m.seq) THEN true END))`;

/** `m` joined with the message it replies to. */
export const WITH_REPLY =
  'messages m LEFT JOIN messages r ON r.conversation_id = m.conversation_id AND r.seq = m.reply_to';

/** `m` is content and the user in parameter `u` did not hide it. */
export const shown = (u: string) => `m.kind = 'text' AND NOT EXISTS (SELECT 1 FROM message_marks h
  WHERE h.user_id = ${u} AND h.mark = 'hide' AND h.conversation_id = m.conversation_id AND h.seq = m.seq)`;

/** A batch part's answers, given the messages that passed the rules (`append` stores them). */
type Append = (c: Queryable, batch: readonly NewMessage[]) => Promise<AppendResult[]>;

interface TargetRow {
  conversation_id: string;
  seq: string;
  pos: string;
  kind: TargetState['kind'];
  sender_id: string;
  text: string;
  deleted: boolean;
  pinned_at: string | null;
}

/**
 * Append `batch` (messages of conversations on the database of `c`, inside a transaction)
 * with the rules of message actions checked and stored events folded.
 */
export async function appendChecked(
  c: Queryable,
  batch: readonly NewMessage[],
  append: Append,
): Promise<AppendResult[]> {
  const convs = [...new Set(batch.map((m) => m.conversationId))].sort();
  // The order parley_append_batch locks in: nothing below changes until COMMIT.
  await c.query('SELECT 1 FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [convs]);
  const acting = batch.filter((m) => targetOf(m) !== undefined);
  const stored = new Set(
    (
      await c.query<{ sender_id: string; client_id: string }>(
        `SELECT sender_id, client_id FROM message_keys
         WHERE (sender_id, client_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [acting.map((m) => m.senderId), acting.map((m) => m.clientId)],
      )
    ).rows.map((r) => pairKey(r.sender_id, r.client_id)),
  );
  const actors = new Map<string, Actor>();
  for (const r of (
    await c.query<{
      conversation_id: string;
      user_id: string;
      role: Actor['role'];
      joined_pos: string;
      kind: Actor['conversationKind'];
    }>(
      `SELECT mb.conversation_id, mb.user_id, mb.role, mb.joined_pos, c.kind
       FROM members mb JOIN conversations c ON c.id = mb.conversation_id
       WHERE (mb.conversation_id, mb.user_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [acting.map((m) => m.conversationId), acting.map((m) => m.senderId)],
    )
  ).rows) {
    actors.set(pairKey(r.conversation_id, r.user_id), {
      role: r.role,
      joinedPos: Number(r.joined_pos),
      conversationKind: r.kind,
    });
  }
  const targets = await readTargets(c, acting);
  const refused = new Map<NewMessage, ErrorCode>();
  const snippets = new Map<NewMessage, TargetRow>();
  for (const m of acting) {
    const actor = actors.get(pairKey(m.conversationId, m.senderId));
    // A resend answers as its original; a non-member gets parley_append_batch's answer.
    if (stored.has(pairKey(m.senderId, m.clientId)) || !actor) continue;
    const t = targets.get(pairKey(m.conversationId, String(targetOf(m))));
    const code = refusal(m, actor, t?.state);
    if (code) refused.set(m, code);
    else if (t) {
      foldTarget(t.state, m);
      if (kindOf(m) === 'text') snippets.set(m, t.row);
    }
  }
  const passing = batch.filter((m) => !refused.has(m));
  const answers = await append(c, passing);
  const byMessage = new Map<NewMessage, AppendResult>();
  for (let k = 0; k < passing.length; k++) {
    const m = passing[k] as NewMessage;
    const a = answers[k] as AppendResult;
    byMessage.set(m, a);
    if (!a.ok || a.duplicate) continue;
    await fold(c, m, a.message.seq);
    const row = snippets.get(m);
    if (row) a.message.replyTo = replySnippet(Number(row.seq), row.sender_id, row.text, row.deleted);
  }
  return batch.map((m) => {
    const code = refused.get(m);
    return code ? { ok: false, code } : (byMessage.get(m) as AppendResult);
  });
}

async function readTargets(
  c: Queryable,
  acting: readonly NewMessage[],
): Promise<Map<string, { row: TargetRow; state: TargetState }>> {
  const out = new Map<string, { row: TargetRow; state: TargetState }>();
  if (acting.length === 0) return out;
  const convs = acting.map((m) => m.conversationId);
  const seqs = acting.map((m) => targetOf(m) as number);
  // One after another: they share the transaction's connection.
  const rows = await c.query<TargetRow>(
    `SELECT conversation_id, seq, pos, kind, sender_id, text, deleted, pinned_at FROM messages
       WHERE (conversation_id, seq) IN (SELECT * FROM unnest($1::text[], $2::int8[]))`,
    [convs, seqs],
  );
  const emoji = await c.query<{ conversation_id: string; seq: string; emoji: string }>(
    `SELECT DISTINCT conversation_id, seq, emoji FROM reactions
       WHERE (conversation_id, seq) IN (SELECT * FROM unnest($1::text[], $2::int8[]))`,
    [convs, seqs],
  );
  const pins = await c.query<{ conversation_id: string; n: number }>(
    `SELECT conversation_id, count(*)::int AS n FROM messages
       WHERE conversation_id = ANY($1::text[]) AND pinned_at IS NOT NULL GROUP BY conversation_id`,
    [[...new Set(convs)]],
  );
  const chats = new Map<string, { pins: number }>();
  for (const cv of new Set(convs)) chats.set(cv, { pins: 0 });
  for (const p of pins.rows) (chats.get(p.conversation_id) as { pins: number }).pins = p.n;
  for (const row of rows.rows) {
    out.set(pairKey(row.conversation_id, String(row.seq)), {
      row,
      state: {
        seq: Number(row.seq),
        pos: Number(row.pos),
        kind: row.kind,
        senderId: row.sender_id,
        deleted: row.deleted,
        pinned: row.pinned_at !== null,
        emoji: new Set(),
        chat: chats.get(row.conversation_id) as { pins: number },
      },
    });
  }
  for (const e of emoji.rows) out.get(pairKey(e.conversation_id, String(e.seq)))?.state.emoji.add(e.emoji);
  return out;
}

/** Fold stored message `m` (at `seq`) into the state it changes. */
async function fold(c: Queryable, m: NewMessage, seq: number): Promise<void> {
  const conv = m.conversationId;
  const t = m.target as number;
  switch (kindOf(m)) {
    case 'text':
      if (m.mentions?.length) {
        await c.query(
          `INSERT INTO mentions (user_id, conversation_id, seq, created_at)
           SELECT u, $2, $3, $4 FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING`,
          [m.mentions, conv, seq, m.createdAt],
        );
      }
      return;
    case 'edit':
      return setText(c, conv, t, m.text, m.mentions ?? [], m.createdAt);
    case 'delete':
      return eraseText(c, conv, t);
    case 'react':
      await c.query(
        `INSERT INTO reactions (conversation_id, seq, emoji, user_id, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [conv, t, m.text, m.senderId, m.createdAt],
      );
      return;
    case 'unreact':
      await c.query(
        'DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4',
        [conv, t, m.text, m.senderId],
      );
      return;
    case 'pin':
      await c.query(
        'UPDATE messages SET pinned_at = $1 WHERE conversation_id = $2 AND seq = $3 AND pinned_at IS NULL',
        [m.createdAt, conv, t],
      );
      return;
    case 'unpin':
      await c.query('UPDATE messages SET pinned_at = NULL WHERE conversation_id = $1 AND seq = $2', [
        conv,
        t,
      ]);
      return;
    case 'hide':
    case 'save':
      await c.query(
        `INSERT INTO message_marks (user_id, mark, conversation_id, seq, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [m.senderId, kindOf(m), conv, t, m.createdAt],
      );
      return;
    case 'unsave':
      await c.query(
        `DELETE FROM message_marks WHERE user_id = $1 AND mark = 'save' AND conversation_id = $2 AND seq = $3`,
        [m.senderId, conv, t],
      );
      return;
  }
}

/**
 * The one place a content message's text changes (an edit): its search tokens (migration 14)
 * and its mentions follow (a member it names anew is mentioned as of the edit).
 */
async function setText(
  c: Queryable,
  conversationId: string,
  seq: number,
  text: string,
  mentions: readonly string[],
  at: number,
): Promise<void> {
  // Its search tokens follow the text (migration 14), with its files' names.
  const { rows } = await c.query<{ attachments: string | null }>(
    'SELECT attachments FROM messages WHERE conversation_id = $1 AND seq = $2',
    [conversationId, seq],
  );
  const files = rows[0]?.attachments ?? null;
  const attachments = files === null ? undefined : (JSON.parse(files) as Attachment[]);
  await c.query(
    `UPDATE messages SET text = $1, edited_at = $2, search = $5::tsvector, mentions = $6, preview = NULL
     WHERE conversation_id = $3 AND seq = $4`,
    [
      text,
      at,
      conversationId,
      seq,
      tsVector(searchTextOf({ text, attachments })),
      mentions.length ? JSON.stringify(mentions) : null,
    ],
  );
  await c.query(
    'DELETE FROM mentions WHERE conversation_id = $1 AND seq = $2 AND NOT (user_id = ANY($3::text[]))',
    [conversationId, seq, mentions],
  );
  if (mentions.length > 0) {
    await c.query(
      `INSERT INTO mentions (user_id, conversation_id, seq, created_at)
       SELECT u, $2, $3, $4 FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING`,
      [mentions, conversationId, seq, at],
    );
  }
}

/**
 * The one place text is erased (delete for everyone): the message becomes a tombstone, and
 * the text of its edits, its reactions and its mentions go too.
 */
async function eraseText(c: Queryable, conversationId: string, seq: number): Promise<void> {
  await c.query(
    `UPDATE messages SET text = '', deleted = true, edited_at = NULL, reply_to = NULL, mentions = NULL,
       attachments = NULL, preview = NULL, pinned_at = NULL, search = NULL WHERE conversation_id = $1 AND seq = $2`,
    [conversationId, seq],
  );
  await c.query(
    `UPDATE messages SET text = '' WHERE conversation_id = $1 AND target = $2 AND kind = 'edit'`,
    [conversationId, seq],
  );
  await c.query('DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2', [conversationId, seq]);
  await c.query('DELETE FROM mentions WHERE conversation_id = $1 AND seq = $2', [conversationId, seq]);
}

/** Reads of folded messages. */
export class PgMessageReads {
  constructor(private readonly shards: PgShards) {}

  async messageAt(conversationId: string, seq: number, userId: string): Promise<Message | null> {
    const [r] = await this.shards.of(conversationId).rows<{ j: Message }>(
      `SELECT ${messageJson('$3')} AS j FROM ${WITH_REPLY}
       JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $3
       WHERE m.conversation_id = $1 AND m.seq = $2 AND m.pos > mb.joined_pos AND ${shown('$3')}`,
      [conversationId, seq, userId],
    );
    return r?.j ?? null;
  }

  async pinned(conversationId: string, userId: string): Promise<Message[]> {
    const rows = await this.shards.of(conversationId).rows<{ j: Message }>(
      `SELECT ${messageJson('$2')} AS j FROM ${WITH_REPLY}
       JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $2
       WHERE m.conversation_id = $1 AND m.pinned_at IS NOT NULL AND m.pos > mb.joined_pos AND ${shown('$2')}
       ORDER BY m.pinned_at DESC, m.seq DESC`,
      [conversationId, userId],
    );
    return rows.map((r) => r.j);
  }

  mentionsOf(userId: string, read: ListRead): Promise<MessageListPage> {
    return this.list('mentions x', '', userId, read);
  }

  savedOf(userId: string, read: ListRead): Promise<MessageListPage> {
    return this.list('message_marks x', "AND x.mark = 'save'", userId, read);
  }

  /** A page from every database (the rows live with their messages), merged newest first. */
  private async list(from: string, where: string, userId: string, read: ListRead): Promise<MessageListPage> {
    const p = parseListCursor(read.before);
    const parts = await this.shards.all((db) =>
      db.rows<{ j: Message; at: string }>(
        `SELECT ${messageJson('$1')} AS j, x.created_at AS at FROM ${from}
         JOIN messages m ON m.conversation_id = x.conversation_id AND m.seq = x.seq
       LEFT JOIN messages r ON r.conversation_id = m.conversation_id AND r.seq = m.reply_to
         WHERE x.user_id = $1 ${where} AND (x.created_at, x.conversation_id, x.seq) < ($2, $3, $4)
           AND ${shown('$1')}
         ORDER BY x.created_at DESC, x.conversation_id DESC, x.seq DESC LIMIT $5`,
        [userId, p.at, p.conversationId, p.seq, read.limit + 1],
      ),
    );
    const rows = parts
      .flat()
      .map((r) => ({ m: r.j, at: Number(r.at) }))
      .filter((r) => isBefore(r.at, r.m.conversationId, r.m.seq, p))
      .sort((a, b) =>
        a.at !== b.at
          ? b.at - a.at
          : a.m.conversationId !== b.m.conversationId
            ? a.m.conversationId < b.m.conversationId
              ? 1
              : -1
            : b.m.seq - a.m.seq,
      );
    const page: MessageListPage = { messages: rows.slice(0, read.limit).map((r) => r.m) };
    const last = rows[read.limit - 1];
    if (rows.length > read.limit && last) page.next = listCursor(last.at, last.m);
    return page;
  }
}
