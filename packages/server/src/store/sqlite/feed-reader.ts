/**
 * A user's feed on the embedded store, read from the conversations it is made of (fan-out on
 * read): a k-way merge by pos of each conversation's messages after `since` (within the
 * member's part of it), read in chunks.
 */
import type { FeedPage } from '../store.js';
import { REPLY_COLUMNS, toMessage } from '../common/rows.js';
import type { MessageDbRow } from '../common/rows.js';
import type { SqliteDriver } from './sqlite-driver.js';

/** One conversation's part of a feed being read. */
interface FeedCursor {
  userId: string;
  conversationId: string;
  /** The next seq to read. */
  next: number;
  /** The part ends at this pos (a removed member's last message of it). */
  hi: number;
  rows: MessageDbRow[];
  at: number;
  done: boolean;
}

function statements(d: SqliteDriver) {
  return {
    // The parts of conversations a user's feed has after a position: (lo, hi] in pos, hi null
    // for conversations they are a member of now.
    feedSources: d.prepare<
      { u: string; since: number },
      { id: string; last_seq: number; lo: number; hi: number | null }
    >(
      `SELECT c.id, c.last_seq, m.joined_pos AS lo, NULL AS hi
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = @u AND c.last_pos > MAX(@since, m.joined_pos)
       UNION ALL
       SELECT c.id, c.last_seq, f.joined_pos, f.left_pos
       FROM former_members f JOIN conversations c ON c.id = f.conversation_id
       WHERE f.user_id = @u AND f.left_pos > MAX(@since, f.joined_pos)`,
    ),
    // pos is the rowid, so the (conversation_id, seq) index answers this alone.
    posAtSeq: d.pluck<[c: string, seq: number], number>(
      'SELECT pos FROM messages WHERE conversation_id = ? AND seq = ?',
    ),
    // Without others' private events; a reply with its target's snippet.
    fromSeq: d.prepare<{ c: string; seq: number; n: number; u: string }, MessageDbRow>(
      `SELECT m.*, ${REPLY_COLUMNS} FROM messages m
       LEFT JOIN messages r ON r.conversation_id = m.conversation_id AND r.seq = m.reply_to
       WHERE m.conversation_id = @c AND m.seq >= @seq AND (m.visible_to IS NULL OR m.visible_to = @u)
       ORDER BY m.seq LIMIT @n`,
    ),
  };
}

export class SqliteFeedReader {
  private readonly s: ReturnType<typeof statements>;

  constructor(d: SqliteDriver) {
    this.s = statements(d);
  }

  /** Messages of the feed with pos > since, at most `limit`; run it inside one read transaction. */
  page(userId: string, since: number, limit: number): FeedPage {
    const sources = this.s.feedSources.all({ u: userId, since });
    const want = limit + 1;
    const chunk = Math.max(8, Math.ceil(want / Math.max(1, sources.length)));
    const cursors: FeedCursor[] = sources.map((src) => ({
      userId,
      conversationId: src.id,
      next: this.firstSeqAfter(src.id, src.last_seq, Math.max(since, src.lo)),
      hi: src.hi ?? Number.MAX_SAFE_INTEGER,
      rows: [],
      at: 0,
      done: false,
    }));
    const out: MessageDbRow[] = [];
    while (out.length < want) {
      let best: FeedCursor | undefined;
      let bestRow: MessageDbRow | undefined;
      for (const c of cursors) {
        if (c.at === c.rows.length && !c.done) this.fill(c, chunk);
        const row = c.rows[c.at];
        if (row && row.pos < (bestRow?.pos ?? Number.MAX_SAFE_INTEGER)) {
          best = c;
          bestRow = row;
        }
      }
      if (!best || !bestRow) break;
      best.at++;
      out.push(bestRow);
    }
    return { messages: out.slice(0, limit).map(toMessage), hasMore: out.length > limit };
  }

  private fill(c: FeedCursor, chunk: number): void {
    const rows = this.s.fromSeq.all({ c: c.conversationId, seq: c.next, n: chunk, u: c.userId });
    if (rows.length < chunk) c.done = true;
    let n = rows.length;
    let last = rows[n - 1];
    while (last && last.pos > c.hi) {
      n--;
      last = rows[n - 1];
      c.done = true;
    }
    c.rows = n === rows.length ? rows : rows.slice(0, n);
    c.at = 0;
    if (last) c.next = last.seq + 1;
  }

  /**
   * The smallest seq of a conversation whose pos is above `lower`, given that the message
   * at `lastSeq` is. pos grows with seq in a conversation, so: probe back from the newest in
   * doubling steps, then bisect; ~2·log2(k) index lookups for k messages after `lower`.
   */
  private firstSeqAfter(conversationId: string, lastSeq: number, lower: number): number {
    // Seqs are gap-free; a missing one would count as past `lower`.
    const posAt = (seq: number) => this.s.posAtSeq.get(conversationId, seq) ?? Number.POSITIVE_INFINITY;
    // Invariant: pos(hi) > lower >= pos(lo), where seq 0 stands for "before the first".
    let hi = lastSeq;
    let lo = 0;
    for (let step = 1; hi - step > 0; step *= 2) {
      const probe = hi - step;
      if (posAt(probe) <= lower) {
        lo = probe;
        break;
      }
      hi = probe;
    }
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (posAt(mid) <= lower) lo = mid;
      else hi = mid;
    }
    return hi;
  }
}
