/**
 * Message actions on the embedded store: the rules' inputs read inside the append
 * transaction, the fold of a stored event into its target, and the reads of folded messages
 * (one message, pins, mentions, saved).
 */
import type { Attachment, ErrorCode, Message, MessageListPage } from '@parley/protocol';
import type { ListRead, NewMessage } from '../store.js';
import { kindOf, refusal, searchTextOf, targetOf } from '../common/message-rules.js';
import type { TargetState } from '../common/message-rules.js';
import { listCursor, parseListCursor } from '../common/list-cursor.js';
import { replySnippet } from '../common/rows.js';
import type { ReplySnippet } from '@parley/protocol';
import type { SqliteSearch } from './search.js';
import type { SqliteDriver } from './sqlite-driver.js';

/**
 * A content message `m` (joined with its replied-to message `r`) as the JSON of a protocol
 * Message in its folded state, as user @u sees it. json_patch drops the null members.
 */
export const MESSAGE_JSON = `json_patch(json_object('id', m.id, 'conversationId', m.conversation_id,
    'seq', m.seq, 'pos', m.pos, 'senderId', m.sender_id, 'clientId', m.client_id, 'kind', m.kind,
    'text', m.text, 'createdAt', m.created_at),
  json_object('editedAt', m.edited_at, 'deleted', CASE WHEN m.deleted THEN json('true') END,
    'replyTo', CASE WHEN r.seq IS NOT NULL THEN json_object('seq', r.seq, 'senderId', r.sender_id,
      'text', CASE WHEN r.deleted THEN '' ELSE substr(r.text, 1, 200) END,
      'deleted', CASE WHEN r.deleted THEN json('true') END) END,
    'forwarded', CASE WHEN m.forwarded THEN json('true') END,
    'mentions', json(m.mentions),
    'attachments', json(m.attachments),
    'preview', json(m.preview),
    'reactions', json((SELECT CASE WHEN count(*) > 0 THEN
        json_group_array(json_object('emoji', x.emoji, 'count', x.n, 'userIds', json(x.u))) END
      FROM (SELECT emoji, count(*) AS n, json_group_array(user_id) AS u, min(created_at) AS f
            FROM reactions WHERE conversation_id = m.conversation_id AND seq = m.seq
            GROUP BY emoji ORDER BY f, emoji) x)),
    'pinnedAt', m.pinned_at,
    'saved', CASE WHEN EXISTS (SELECT 1 FROM message_marks k WHERE k.user_id = @u AND k.mark = 'save'
      AND k.conversation_id = m.conversation_id AND k.seq = m.seq) THEN json('true') END))`;

/** `m` joined with the message it replies to. */
export const WITH_REPLY =
  'messages m LEFT JOIN messages r ON r.conversation_id = m.conversation_id AND r.seq = m.reply_to';

/** `m` is content and @u did not hide it. */
export const SHOWN = `m.kind = 'text' AND NOT EXISTS (SELECT 1 FROM message_marks h WHERE h.user_id = @u
  AND h.mark = 'hide' AND h.conversation_id = m.conversation_id AND h.seq = m.seq)`;

interface TargetRow {
  seq: number;
  pos: number;
  kind: TargetState['kind'];
  sender_id: string;
  text: string;
  deleted: number;
  pinned_at: number | null;
}

function statements(d: SqliteDriver) {
  return {
    actor: d.prepare<
      [c: string, u: string],
      { role: 'admin' | 'member'; joined_pos: number; kind: 'direct' | 'group' }
    >(
      `SELECT m.role, m.joined_pos, c.kind FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = ? AND m.user_id = ?`,
    ),
    target: d.prepare<[c: string, seq: number], TargetRow>(
      'SELECT seq, pos, kind, sender_id, text, deleted, pinned_at FROM messages WHERE conversation_id = ? AND seq = ?',
    ),
    emoji: d.pluck<[c: string, seq: number], string>(
      'SELECT DISTINCT emoji FROM reactions WHERE conversation_id = ? AND seq = ?',
    ),
    pins: d.pluck<[c: string], number>(
      'SELECT count(*) FROM messages WHERE conversation_id = ? AND pinned_at IS NOT NULL',
    ),
    setText: d.prepare<[text: string, at: number, mentions: string | null, c: string, seq: number]>(
      'UPDATE messages SET text = ?, edited_at = ?, mentions = ?, preview = NULL WHERE conversation_id = ? AND seq = ?',
    ),
    // The mentions an edit no longer makes (the new list as a JSON array).
    dropOtherMentions: d.prepare<[c: string, seq: number, keep: string]>(
      'DELETE FROM mentions WHERE conversation_id = ? AND seq = ? AND user_id NOT IN (SELECT value FROM json_each(?))',
    ),
    attachmentsOf: d.pluck<[c: string, seq: number], string | null>(
      'SELECT attachments FROM messages WHERE conversation_id = ? AND seq = ?',
    ),
    eraseTarget: d.prepare<[c: string, seq: number]>(
      `UPDATE messages SET text = '', deleted = 1, edited_at = NULL, reply_to = NULL, mentions = NULL, attachments = NULL, preview = NULL,
         pinned_at = NULL WHERE conversation_id = ? AND seq = ?`,
    ),
    eraseEdits: d.prepare<[c: string, seq: number]>(
      `UPDATE messages SET text = '' WHERE conversation_id = ? AND target = ? AND kind = 'edit'`,
    ),
    dropReactions: d.prepare<[c: string, seq: number]>(
      'DELETE FROM reactions WHERE conversation_id = ? AND seq = ?',
    ),
    dropMentions: d.prepare<[c: string, seq: number]>(
      'DELETE FROM mentions WHERE conversation_id = ? AND seq = ?',
    ),
    react: d.prepare<[c: string, seq: number, emoji: string, u: string, at: number]>(
      'INSERT OR IGNORE INTO reactions (conversation_id, seq, emoji, user_id, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    unreact: d.prepare<[c: string, seq: number, emoji: string, u: string]>(
      'DELETE FROM reactions WHERE conversation_id = ? AND seq = ? AND emoji = ? AND user_id = ?',
    ),
    pin: d.prepare<[at: number, c: string, seq: number]>(
      'UPDATE messages SET pinned_at = ? WHERE conversation_id = ? AND seq = ? AND pinned_at IS NULL',
    ),
    unpin: d.prepare<[c: string, seq: number]>(
      'UPDATE messages SET pinned_at = NULL WHERE conversation_id = ? AND seq = ?',
    ),
    mark: d.prepare<[u: string, mark: string, c: string, seq: number, at: number]>(
      'INSERT OR IGNORE INTO message_marks (user_id, mark, conversation_id, seq, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    unmark: d.prepare<[u: string, mark: string, c: string, seq: number]>(
      'DELETE FROM message_marks WHERE user_id = ? AND mark = ? AND conversation_id = ? AND seq = ?',
    ),
    mention: d.prepare<[u: string, c: string, seq: number, at: number]>(
      'INSERT OR IGNORE INTO mentions (user_id, conversation_id, seq, created_at) VALUES (?, ?, ?, ?)',
    ),
    messageAt: d.pluck<{ c: string; seq: number; u: string }, string>(
      `SELECT ${MESSAGE_JSON} FROM ${WITH_REPLY}
       JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = @u
       WHERE m.conversation_id = @c AND m.seq = @seq AND m.pos > mb.joined_pos AND ${SHOWN}`,
    ),
    pinned: d.pluck<{ c: string; u: string }, string>(
      `SELECT ${MESSAGE_JSON} FROM ${WITH_REPLY}
       JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = @u
       WHERE m.conversation_id = @c AND m.pinned_at IS NOT NULL AND m.pos > mb.joined_pos AND ${SHOWN}
       ORDER BY m.pinned_at DESC, m.seq DESC`,
    ),
    mentions: d.prepare<
      { u: string; at: number; c: string; seq: number; n: number },
      { j: string; at: number }
    >(
      `SELECT ${MESSAGE_JSON} AS j, x.created_at AS at FROM mentions x
       JOIN messages m ON m.conversation_id = x.conversation_id AND m.seq = x.seq
       LEFT JOIN messages r ON r.conversation_id = m.conversation_id AND r.seq = m.reply_to
       WHERE x.user_id = @u AND (x.created_at, x.conversation_id, x.seq) < (@at, @c, @seq) AND ${SHOWN}
       ORDER BY x.created_at DESC, x.conversation_id DESC, x.seq DESC LIMIT @n`,
    ),
    saved: d.prepare<{ u: string; at: number; c: string; seq: number; n: number }, { j: string; at: number }>(
      `SELECT ${MESSAGE_JSON} AS j, x.created_at AS at FROM message_marks x
       JOIN messages m ON m.conversation_id = x.conversation_id AND m.seq = x.seq
       LEFT JOIN messages r ON r.conversation_id = m.conversation_id AND r.seq = m.reply_to
       WHERE x.user_id = @u AND x.mark = 'save' AND (x.created_at, x.conversation_id, x.seq) < (@at, @c, @seq)
         AND ${SHOWN}
       ORDER BY x.created_at DESC, x.conversation_id DESC, x.seq DESC LIMIT @n`,
    ),
  };
}

export class SqliteMessageActions {
  private readonly s: ReturnType<typeof statements>;

  constructor(
    d: SqliteDriver,
    /** The search index, kept with the text in the same transaction. */
    private readonly search: SqliteSearch,
  ) {
    this.s = statements(d);
  }

  /**
   * Why `m` (an event or a reply by a member) is refused, or null; inside the append
   * transaction. `reply` gets the snippet of a reply's target.
   */
  check(m: NewMessage, reply: { snippet?: ReplySnippet }): ErrorCode | null {
    const seq = targetOf(m);
    if (seq === undefined) return null;
    const actor = this.s.actor.get(m.conversationId, m.senderId);
    if (!actor) return 'not_found';
    const row = this.s.target.get(m.conversationId, seq);
    const target: TargetState | undefined = row && {
      seq: row.seq,
      pos: row.pos,
      kind: row.kind,
      senderId: row.sender_id,
      deleted: row.deleted === 1,
      pinned: row.pinned_at !== null,
      emoji: new Set(kindOf(m) === 'react' ? this.s.emoji.all(m.conversationId, seq) : []),
      chat: { pins: kindOf(m) === 'pin' ? (this.s.pins.get(m.conversationId) ?? 0) : 0 },
    };
    const refused = refusal(
      m,
      { role: actor.role, joinedPos: actor.joined_pos, conversationKind: actor.kind },
      target,
    );
    if (!refused && row && kindOf(m) === 'text') {
      reply.snippet = replySnippet(seq, row.sender_id, row.text, row.deleted === 1);
    }
    return refused;
  }

  /** Fold stored message `m` (at `seq`) into the state it changes. */
  fold(m: NewMessage, seq: number): void {
    const s = this.s;
    const c = m.conversationId;
    const t = m.target as number;
    switch (kindOf(m)) {
      case 'text':
        for (const u of m.mentions ?? []) s.mention.run(u, c, seq, m.createdAt);
        return;
      case 'edit':
        this.setText(c, t, m.text, m.mentions ?? [], m.createdAt);
        return;
      case 'delete':
        this.eraseText(c, t);
        return;
      case 'react':
        s.react.run(c, t, m.text, m.senderId, m.createdAt);
        return;
      case 'unreact':
        s.unreact.run(c, t, m.text, m.senderId);
        return;
      case 'pin':
        s.pin.run(m.createdAt, c, t);
        return;
      case 'unpin':
        s.unpin.run(c, t);
        return;
      case 'hide':
      case 'save':
        s.mark.run(m.senderId, kindOf(m), c, t, m.createdAt);
        return;
      case 'unsave':
        s.unmark.run(m.senderId, 'save', c, t);
        return;
    }
  }

  /**
   * The one place a content message's text changes (an edit): its search tokens (the files'
   * names stay searchable with the new caption) and its mentions follow (a member it names
   * anew is mentioned as of the edit).
   */
  private setText(
    conversationId: string,
    seq: number,
    text: string,
    mentions: readonly string[],
    at: number,
  ): void {
    this.s.setText.run(text, at, mentions.length ? JSON.stringify(mentions) : null, conversationId, seq);
    const files = this.s.attachmentsOf.get(conversationId, seq) ?? null;
    const attachments = files === null ? undefined : (JSON.parse(files) as Attachment[]);
    this.search.reindex(conversationId, seq, searchTextOf({ text, attachments }));
    this.s.dropOtherMentions.run(conversationId, seq, JSON.stringify(mentions));
    for (const u of mentions) this.s.mention.run(u, conversationId, seq, at);
  }

  /**
   * The one place text is erased (delete for everyone): the message becomes a tombstone, and
   * the text of its edits, its reactions and its mentions go too.
   */
  private eraseText(conversationId: string, seq: number): void {
    this.s.eraseTarget.run(conversationId, seq);
    this.search.reindex(conversationId, seq, null);
    this.s.eraseEdits.run(conversationId, seq);
    this.s.dropReactions.run(conversationId, seq);
    this.s.dropMentions.run(conversationId, seq);
  }

  messageAt(conversationId: string, seq: number, userId: string): Message | null {
    const j = this.s.messageAt.get({ c: conversationId, seq, u: userId });
    return j ? (JSON.parse(j) as Message) : null;
  }

  pinned(conversationId: string, userId: string): Message[] {
    return this.s.pinned.all({ c: conversationId, u: userId }).map((j) => JSON.parse(j) as Message);
  }

  mentionsOf(userId: string, read: ListRead): MessageListPage {
    return this.list(this.s.mentions, userId, read);
  }

  savedOf(userId: string, read: ListRead): MessageListPage {
    return this.list(this.s.saved, userId, read);
  }

  private list(st: ReturnType<typeof statements>['saved'], userId: string, read: ListRead): MessageListPage {
    const from = parseListCursor(read.before);
    const rows = st.all({ u: userId, at: from.at, c: from.conversationId, seq: from.seq, n: read.limit + 1 });
    const messages = rows.slice(0, read.limit).map((r) => JSON.parse(r.j) as Message);
    const last = rows[read.limit - 1];
    const page: MessageListPage = { messages };
    const lastMessage = messages[messages.length - 1];
    if (rows.length > read.limit && last && lastMessage) page.next = listCursor(last.at, lastMessage);
    return page;
  }
}
