/**
 * Messages on the embedded store: the append path, history, feeds and the read and
 * delivered cursors. It owns the append state cache: this store is the file's only writer,
 * and the appends are what read the cache, so the other aggregates only tell it what to
 * forget (`forgetConversation`).
 */
import type { Message } from '@parley/protocol';
import type {
  AppendResult,
  CursorRow,
  FeedPage,
  FeedRead,
  MessageStore,
  NewMessage,
  Positions,
} from '../store.js';
import { inSpaceZero } from '../common/feed-cursor.js';
import { planAppends, resolveAppends } from '../common/append-batch.js';
import { pairKey } from '../common/pair-key.js';
import { toCursor, toMessage } from '../common/rows.js';
import type { CursorDbRow, MessageDbRow } from '../common/rows.js';
import { SqliteFeedReader } from './feed-reader.js';
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
const PAGE_JSON = `coalesce(json_group_array(json_object(
  'id', id, 'conversationId', conversation_id, 'seq', seq, 'pos', pos, 'senderId', sender_id,
  'clientId', client_id, 'text', text, 'createdAt', created_at) ORDER BY seq) FILTER (WHERE rn <= @n), '[]')`;

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
    senderRead: d.prepare<[seq: number, c: string, u: string, below: number]>(
      'UPDATE members SET read_seq = ? WHERE conversation_id = ? AND user_id = ? AND read_seq < ?',
    ),
    historyBefore: d.prepare<[c: string, before: number, n: number], MessageDbRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    historyAfter: d.prepare<[c: string, after: number, n: number], MessageDbRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?',
    ),
    // A page as JSON (HistoryPage): n+1 rows are read, the one past the page only tells hasMore.
    historyBeforeJson: d.prepare<
      { c: string; at: number; n: number },
      JsonPage
    >(`SELECT count(*) AS n, ${PAGE_JSON} AS json FROM (
      SELECT *, row_number() OVER (ORDER BY seq DESC) AS rn FROM messages
      WHERE conversation_id = @c AND seq < @at ORDER BY seq DESC LIMIT @n + 1)`),
    historyAfterJson: d.prepare<
      { c: string; at: number; n: number },
      JsonPage
    >(`SELECT count(*) AS n, ${PAGE_JSON} AS json FROM (
      SELECT *, row_number() OVER (ORDER BY seq) AS rn FROM messages
      WHERE conversation_id = @c AND seq > @at ORDER BY seq LIMIT @n + 1)`),
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
      if (prior.conversation_id !== m.conversationId || prior.text !== m.text) {
        return { ok: false, code: 'client_id_conflict' };
      }
      return { ok: true, message: toMessage(prior), duplicate: true, recipients: [], prev: [] };
    }
    const conv = this.convState(m.conversationId);
    if (!conv) return { ok: false, code: 'not_found' };
    const members = conv.members;
    if (!members.includes(m.senderId)) return { ok: false, code: 'not_found' };
    if (members.length === 2 && conv.blocked) return { ok: false, code: 'blocked' };
    const seq = ++conv.lastSeq;
    const info = s.insertMessage.run(
      m.conversationId,
      seq,
      m.id,
      m.senderId,
      m.clientId,
      m.text,
      m.createdAt,
    );
    const pos = Number(info.lastInsertRowid);
    this.search.indexRow(pos, m.conversationId, m.text);
    conv.lastPos = pos;
    conv.at = m.createdAt;
    this.batchConvs.add(conv);
    // No row per member: each member's feed is read from the conversation (fan-out on read);
    // only the heads move, for the `prev` chain.
    const prev: number[] = [];
    for (const u of members) {
      prev.push(this.feedHeadOf(u));
      this.heads.set(u, pos);
    }
    const readKey = pairKey(m.conversationId, m.senderId);
    const read = this.batchReads.get(readKey);
    if (read) read.seq = seq;
    else this.batchReads.set(readKey, { conversationId: m.conversationId, userId: m.senderId, seq });
    return {
      ok: true,
      duplicate: false,
      recipients: members,
      prev,
      message: {
        id: m.id,
        conversationId: m.conversationId,
        seq,
        pos,
        senderId: m.senderId,
        clientId: m.clientId,
        text: m.text,
        createdAt: m.createdAt,
      },
    };
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
    if (opts.after !== undefined) {
      const rows = this.s.historyAfter.all(conversationId, opts.after, n + 1);
      return { messages: rows.slice(0, n).map(toMessage), hasMore: rows.length > n };
    }
    const before = opts.before ?? Number.MAX_SAFE_INTEGER;
    const rows = this.s.historyBefore.all(conversationId, before, n + 1);
    return { messages: rows.slice(0, n).reverse().map(toMessage), hasMore: rows.length > n };
  }
  async historyJson(conversationId: string, userId: string, opts: HistoryOpts): Promise<string | null> {
    return this.historyJsonTx(conversationId, userId, opts);
  }

  private historyJsonPage(conversationId: string, userId: string, opts: HistoryOpts): string | null {
    if (!this.s.isMember.get(conversationId, userId)) return null;
    const args = { c: conversationId, n: opts.limit };
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
}
