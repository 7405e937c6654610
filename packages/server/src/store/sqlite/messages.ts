/**
 * Messages on the embedded store: the append path, history, feeds and the read and
 * delivered cursors. It owns the append state cache: this store is the file's only writer,
 * and the appends are what read the cache, so the other aggregates only tell it what to
 * forget (`forgetConversation`).
 */
import type { Message, MessageListPage, ReplySnippet } from '@parley/protocol';
import type {
  AppendResult,
  CursorRow,
  FeedPage,
  FeedRead,
  ListRead,
  MessageStore,
  NewMessage,
  Positions,
} from '../store.js';
import { inSpaceZero } from '../common/feed-cursor.js';
import { planAppends, resolveAppends } from '../common/append-batch.js';
import { pairKey } from '../common/pair-key.js';
import { toCursor, toMessage } from '../common/rows.js';
import type { CursorDbRow, MessageDbRow } from '../common/rows.js';
import { audienceOf, isPlain, kindOf, searchTextOf, targetOf } from '../common/message-rules.js';
import { SqliteFeedReader } from './feed-reader.js';
import { MESSAGE_JSON, SHOWN, SqliteMessageActions, WITH_REPLY } from './message-actions.js';
import type { SqliteSearch } from './search.js';
import type { SqliteDriver } from './sqlite-driver.js';

/** Conversations whose append state the writer keeps (past this, the cache starts over). */
const CACHED_CONVERSATIONS = 50_000;
/** Users whose feed head the writer keeps (past this, the cache starts over). */
const CACHED_HEADS = 100_000;

interface ConvState {
  id: string;
  lastSeq: number;
  lastPos: number;
  /** Time of the newest message appended by the current batch (last_activity_at). */
  at: number;
  blocked: boolean;
  members: readonly string[];
}

interface HistoryOpts {
  before?: number;
  after?: number;
  limit: number;
}

/** The rows of a history page (rn <= @n) as a JSON array of protocol Messages, by seq. */
const PAGE_JSON = `coalesce(json_group_array(json(j) ORDER BY seq) FILTER (WHERE rn <= @n), '[]')`;

type JsonPage = { n: number; json: string };

function statements(d: SqliteDriver) {
  return {
    idem: d.prepare<[sender: string, clientId: string], MessageDbRow>(
      'SELECT * FROM messages WHERE sender_id = ? AND client_id = ?',
    ),
    convForAppend: d.prepare<[id: string], { last_seq: number; last_pos: number; blocked: number }>(
      'SELECT last_seq, last_pos, blocked FROM conversations WHERE id = ?',
    ),
    memberIds: d.pluck<[c: string], string>('SELECT user_id FROM members WHERE conversation_id = ?'),
    isMember: d.prepare<[c: string, u: string], object>(
      'SELECT * FROM members WHERE conversation_id = ? AND user_id = ?',
    ),
    setLastSeq: d.prepare<[seq: number, pos: number, at: number, id: string]>(
      'UPDATE conversations SET last_seq = ?, last_pos = ?, last_activity_at = ? WHERE id = ?',
    ),
    insertMessage: d.prepare<
      [c: string, seq: number, id: string, sender: string, clientId: string, text: string, at: number]
    >(
      `INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, text, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertAction: d.prepare<{
      c: string;
      seq: number;
      id: string;
      sender: string;
      clientId: string;
      text: string;
      at: number;
      kind: string;
      target: number | null;
      vis: string | null;
      reply: number | null;
      fwd: number;
      mentions: string | null;
      atts: string | null;
      prev: string | null;
    }>(
      `INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, text, created_at,
         kind, target, visible_to, reply_to, forwarded, mentions, attachments, preview)
       VALUES (@c, @seq, @id, @sender, @clientId, @text, @at, @kind, @target, @vis, @reply, @fwd, @mentions, @atts, @prev)`,
    ),
    senderRead: d.prepare<[seq: number, c: string, u: string, below: number]>(
      'UPDATE members SET read_seq = ? WHERE conversation_id = ? AND user_id = ? AND read_seq < ?',
    ),
    // Folded, as nobody in particular sees them (no one's hidden or saved marks).
    historyBefore: d.pluck<{ c: string; at: number; n: number; u: null }, string>(
      `SELECT ${MESSAGE_JSON} FROM ${WITH_REPLY}
       WHERE m.conversation_id = @c AND m.seq < @at AND m.kind = 'text' ORDER BY m.seq DESC LIMIT @n`,
    ),
    historyAfter: d.pluck<{ c: string; at: number; n: number; u: null }, string>(
      `SELECT ${MESSAGE_JSON} FROM ${WITH_REPLY}
       WHERE m.conversation_id = @c AND m.seq > @at AND m.kind = 'text' ORDER BY m.seq ASC LIMIT @n`,
    ),
    // A page as JSON (HistoryPage): n+1 rows are read, the one past the page only tells hasMore.
    historyBeforeJson: d.prepare<
      { c: string; at: number; n: number; u: string },
      JsonPage
    >(`SELECT count(*) AS n, ${PAGE_JSON} AS json FROM (
      SELECT m.seq, ${MESSAGE_JSON} AS j, row_number() OVER (ORDER BY m.seq DESC) AS rn FROM ${WITH_REPLY}
      WHERE m.conversation_id = @c AND m.seq < @at AND ${SHOWN} ORDER BY m.seq DESC LIMIT @n + 1)`),
    historyAfterJson: d.prepare<
      { c: string; at: number; n: number; u: string },
      JsonPage
    >(`SELECT count(*) AS n, ${PAGE_JSON} AS json FROM (
      SELECT m.seq, ${MESSAGE_JSON} AS j, row_number() OVER (ORDER BY m.seq) AS rn FROM ${WITH_REPLY}
      WHERE m.conversation_id = @c AND m.seq > @at AND ${SHOWN} ORDER BY m.seq LIMIT @n + 1)`),
    feedHead: d.pluck<{ u: string }, number | null>(
      `SELECT MAX(h) FROM (
         SELECT CASE WHEN c.last_pos > m.joined_pos THEN c.last_pos ELSE 0 END AS h
         FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = @u
         UNION ALL
         SELECT CASE WHEN left_pos > joined_pos THEN left_pos ELSE 0 END FROM former_members WHERE user_id = @u)`,
    ),
    setRead: d.prepare<[seq: number, c: string, c2: string, u: string, below: number]>(
      `UPDATE members SET read_seq = MIN(?, (SELECT last_seq FROM conversations WHERE id = ?))
       WHERE conversation_id = ? AND user_id = ? AND read_seq < ?`,
    ),
    readSeq: d.pluck<[c: string, u: string], number>(
      'SELECT read_seq FROM members WHERE conversation_id = ? AND user_id = ?',
    ),
    setDelivered: d.prepare<
      [seq: number, c: string, c2: string, u: string, below: number, c3: string],
      CursorDbRow
    >(
      `UPDATE members SET delivered_seq = MIN(?, (SELECT last_seq FROM conversations WHERE id = ?))
       WHERE conversation_id = ? AND user_id = ? AND delivered_seq < ? AND delivered_seq < (SELECT last_seq FROM conversations WHERE id = ?)
       RETURNING conversation_id, user_id, delivered_seq, read_seq`,
    ),
  };
}

export class SqliteMessages implements MessageStore {
  private readonly s: ReturnType<typeof statements>;
  private readonly feeds: SqliteFeedReader;
  private readonly actions: SqliteMessageActions;
  private readonly appendTx: (batch: readonly NewMessage[]) => AppendResult[];
  private readonly readFeedTx: (userId: string, since: number, limit: number) => FeedPage;
  private readonly historyJsonTx: (
    conversationId: string,
    userId: string,
    opts: HistoryOpts,
  ) => string | null;

  /**
   * Append state of recently active conversations: seq and pos counters, the blocked flag and
   * the member ids. This store is the only writer of the file, so the cache stays exact:
   * appends move it (and write it back once per batch, in the batch's transaction), every
   * method that changes members or blocks drops the entries it touches, and a failed batch
   * drops them all.
   */
  private readonly convs = new Map<string, ConvState>();
  /** Conversations the current batch appended to (written back by `flushBatch`). */
  private readonly batchConvs = new Set<ConvState>();
  /** Senders' read cursors moved by the current batch, written once at its end. */
  private readonly batchReads = new Map<string, { conversationId: string; userId: string; seq: number }>();
  /**
   * Feed heads of recently active users. Exact for the same reason as `convs`; within a batch,
   * a user whose head is not cached had no message yet in it, so the rows still hold their head.
   */
  private readonly heads = new Map<string, number>();

  constructor(
    private readonly d: SqliteDriver,
    private readonly search: SqliteSearch,
  ) {
    this.s = statements(d);
    this.feeds = new SqliteFeedReader(d);
    this.actions = new SqliteMessageActions(d, search);
    // One snapshot for all of a page's statements: a page read across two snapshots could hold
    // a message of one conversation and miss an older one of another committed in between, and
    // the reader's cursor would pass it.
    this.readFeedTx = d.readTx((userId: string, since: number, limit: number) =>
      this.feeds.page(userId, since, limit),
    );
    // Membership and page from one snapshot.
    this.historyJsonTx = d.readTx((conversationId: string, userId: string, opts: HistoryOpts) =>
      this.historyJsonPage(conversationId, userId, opts),
    );
    this.appendTx = d.writeTx((batch: readonly NewMessage[]) => {
      try {
        const out = batch.map((m) => this.appendOne(m));
        this.flushBatch();
        return out;
      } finally {
        this.batchConvs.clear();
        this.batchReads.clear();
        if (this.convs.size > CACHED_CONVERSATIONS) this.convs.clear();
        if (this.heads.size > CACHED_HEADS) this.heads.clear();
      }
    });
  }

  /** Drop a conversation's cached append state: its members or blocked flag changed. */
  forgetConversation(id: string): void {
    this.convs.delete(id);
  }

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    const plan = planAppends(batch, false);
    try {
      return resolveAppends(plan, this.appendTx(plan.messages));
    } catch (err) {
      // Rolled back: the caches may hold counters of the batch that never was.
      this.heads.clear();
      this.convs.clear();
      throw err;
    }
  }

  private appendOne(m: NewMessage): AppendResult {
    const s = this.s;
    const prior = s.idem.get(m.senderId, m.clientId);
    if (prior) {
      // An original edited or erased since can only be matched by its conversation.
      const changed = prior.edited_at !== null || prior.deleted === 1 || prior.text === '';
      if (prior.conversation_id !== m.conversationId || (prior.text !== m.text && !changed)) {
        return { ok: false, code: 'client_id_conflict' };
      }
      return { ok: true, message: toMessage(prior), duplicate: true, recipients: [], prev: [] };
    }
    const conv = this.convState(m.conversationId);
    if (!conv) return { ok: false, code: 'not_found' };
    const members = conv.members;
    if (!members.includes(m.senderId)) return { ok: false, code: 'not_found' };
    if (members.length === 2 && conv.blocked) return { ok: false, code: 'blocked' };
    const plain = isPlain(m);
    const reply: { snippet?: ReplySnippet } = {};
    const refused = plain ? null : this.actions.check(m, reply);
    if (refused) return { ok: false, code: refused };
    const seq = ++conv.lastSeq;
    const info = plain
      ? s.insertMessage.run(m.conversationId, seq, m.id, m.senderId, m.clientId, m.text, m.createdAt)
      : s.insertAction.run({
          c: m.conversationId,
          seq,
          id: m.id,
          sender: m.senderId,
          clientId: m.clientId,
          text: m.text,
          at: m.createdAt,
          kind: kindOf(m),
          target: m.target ?? null,
          vis: audienceOf(m),
          reply: m.replyTo ?? null,
          fwd: m.forwarded ? 1 : 0,
          mentions: m.mentions?.length ? JSON.stringify(m.mentions) : null,
          atts: m.attachments?.length ? JSON.stringify(m.attachments) : null,
          prev: m.preview ? JSON.stringify(m.preview) : null,
        });
    const pos = Number(info.lastInsertRowid);
    if (!plain) this.actions.fold(m, seq);
    // A private event is in its author's feed only.
    const audience = plain ? null : audienceOf(m);
    if (kindOf(m) === 'text') this.search.indexRow(pos, m.conversationId, searchTextOf(m));
    conv.lastPos = pos;
    conv.at = m.createdAt;
    this.batchConvs.add(conv);
    // No row per member: each member's feed is read from the conversation (fan-out on read);
    // only the heads move, for the `prev` chain.
    const recipients = audience === null ? members : [audience];
    const prev: number[] = [];
    for (const u of recipients) {
      prev.push(this.feedHeadOf(u));
      this.heads.set(u, pos);
    }
    const readKey = pairKey(m.conversationId, m.senderId);
    const read = this.batchReads.get(readKey);
    if (read) read.seq = seq;
    else this.batchReads.set(readKey, { conversationId: m.conversationId, userId: m.senderId, seq });
    const message: Message = {
      id: m.id,
      conversationId: m.conversationId,
      seq,
      pos,
      senderId: m.senderId,
      clientId: m.clientId,
      kind: kindOf(m),
      text: m.text,
      createdAt: m.createdAt,
    };
    if (!plain) {
      const target = kindOf(m) === 'text' ? undefined : targetOf(m);
      if (target !== undefined) message.target = target;
      if (reply.snippet) message.replyTo = reply.snippet;
      if (m.forwarded) message.forwarded = true;
      if (m.mentions?.length) message.mentions = [...m.mentions];
      if (m.attachments?.length) message.attachments = [...m.attachments];
      if (m.preview) message.preview = { ...m.preview };
    }
    return { ok: true, duplicate: false, recipients, prev, message };
  }

  private flushBatch(): void {
    for (const c of this.batchConvs) this.s.setLastSeq.run(c.lastSeq, c.lastPos, c.at, c.id);
    for (const r of this.batchReads.values()) this.s.senderRead.run(r.seq, r.conversationId, r.userId, r.seq);
  }

  private convState(id: string): ConvState | undefined {
    let c = this.convs.get(id);
    if (!c) {
      const row = this.s.convForAppend.get(id);
      if (!row) return undefined;
      c = {
        id,
        lastSeq: row.last_seq,
        lastPos: row.last_pos,
        at: 0,
        blocked: row.blocked === 1,
        // Frozen: results of one batch share it (one copy to clone across the thread).
        members: Object.freeze(this.s.memberIds.all(id)),
      };
      this.convs.set(id, c);
    }
    return c;
  }

  private feedHeadOf(userId: string): number {
    let h = this.heads.get(userId);
    if (h === undefined) {
      h = this.s.feedHead.get({ u: userId }) ?? 0;
      this.heads.set(userId, h);
    }
    return h;
  }

  async history(
    conversationId: string,
    opts: HistoryOpts,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const n = opts.limit;
    const parse = (j: string) => JSON.parse(j) as Message;
    if (opts.after !== undefined) {
      const rows = this.s.historyAfter.all({ c: conversationId, at: opts.after, n: n + 1, u: null });
      return { messages: rows.slice(0, n).map(parse), hasMore: rows.length > n };
    }
    const before = opts.before ?? Number.MAX_SAFE_INTEGER;
    const rows = this.s.historyBefore.all({ c: conversationId, at: before, n: n + 1, u: null });
    return { messages: rows.slice(0, n).reverse().map(parse), hasMore: rows.length > n };
  }
  async historyJson(conversationId: string, userId: string, opts: HistoryOpts): Promise<string | null> {
    return this.historyJsonTx(conversationId, userId, opts);
  }

  private historyJsonPage(conversationId: string, userId: string, opts: HistoryOpts): string | null {
    if (!this.s.isMember.get(conversationId, userId)) return null;
    const args = { c: conversationId, n: opts.limit, u: userId };
    const { n, json } = (opts.after !== undefined
      ? this.s.historyAfterJson.get({ ...args, at: opts.after })
      : this.s.historyBeforeJson.get({ ...args, at: opts.before ?? Number.MAX_SAFE_INTEGER })) ??
      // Never: an aggregate without GROUP BY always answers one row.
      { n: 0, json: '[]' };
    return `{"messages":${json},"hasMore":${n > opts.limit}}`;
  }

  // One position space: the embedded store's positions are one sequence (the rowid).
  async readFeed(userId: string, since: Positions, limit: number): Promise<FeedPage> {
    return this.readFeedTx(userId, since.get(0) ?? 0, limit);
  }
  async readFeeds(reads: readonly FeedRead[]): Promise<FeedPage[]> {
    return reads.map((r) => this.readFeedTx(r.userId, r.since.get(0) ?? 0, r.limit));
  }
  async feedHead(userId: string): Promise<Positions> {
    return inSpaceZero(this.s.feedHead.get({ u: userId }) ?? 0);
  }
  async feedHeads(userIds: readonly string[]): Promise<Positions[]> {
    return userIds.map((u) => inSpaceZero(this.s.feedHead.get({ u }) ?? 0));
  }
  async setReadSeq(conversationId: string, userId: string, seq: number): Promise<number> {
    this.s.setRead.run(seq, conversationId, conversationId, userId, seq);
    return this.s.readSeq.get(conversationId, userId) ?? 0;
  }
  async setDeliveredSeqs(
    entries: readonly { conversationId: string; userId: string; seq: number }[],
  ): Promise<CursorRow[]> {
    return this.d.writeTx(() => {
      const out: CursorRow[] = [];
      for (const e of entries) {
        const r = this.s.setDelivered.get(
          e.seq,
          e.conversationId,
          e.conversationId,
          e.userId,
          e.seq,
          e.conversationId,
        );
        if (r) out.push(toCursor(r));
      }
      return out;
    })();
  }

  async messageAt(conversationId: string, seq: number, userId: string): Promise<Message | null> {
    return this.actions.messageAt(conversationId, seq, userId);
  }
  async pinned(conversationId: string, userId: string): Promise<Message[]> {
    return this.actions.pinned(conversationId, userId);
  }
  async mentionsOf(userId: string, read: ListRead): Promise<MessageListPage> {
    return this.actions.mentionsOf(userId, read);
  }
  async savedOf(userId: string, read: ListRead): Promise<MessageListPage> {
    return this.actions.savedOf(userId, read);
  }
}
