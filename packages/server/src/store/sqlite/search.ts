/**
 * Search on the embedded store: the FTS5 table `message_search` (migration 10), keyed by the
 * message's pos. `indexRow` and `unindexRow` are the one place a message's text enters or
 * leaves the index; the append calls `indexRow` inside its transaction.
 */
import type { SearchPage, SearchPageRequest, SearchQuery, SearchStore } from '../store.js';
import { toMessage } from '../common/rows.js';
import type { MessageDbRow } from '../common/rows.js';
import {
  SEARCH_CANDIDATES,
  fts5Query,
  highlights,
  indexTokens,
  queryTerms,
  rankCandidates,
  wholeWords,
} from '../common/search-text.js';
import type { QueryTerm } from '../common/search-text.js';
import type { SqliteDriver } from './sqlite-driver.js';

interface SearchParams {
  q: string;
  u: string;
  conv: string | null;
  sender: string | null;
  before: number;
  after: number;
  asOf: number;
  cap: number;
}

/**
 * The index token of a message's conversation: never a token of text (those hold no private-use
 * character), so `terms AND conversation` finds a conversation's matches without reading the
 * others'. Hex: the `ascii` tokenizer would fold the case of the id and cut it at `_`.
 */
function conversationToken(conversationId: string): string {
  return `\ue000${Buffer.from(conversationId).toString('hex')}`;
}

/** What `message_search` holds for a message: its text's tokens and its conversation's. */
export function searchRow(conversationId: string, text: string): string {
  return `${indexTokens(text)} ${conversationToken(conversationId)}`;
}

function statements(d: SqliteDriver) {
  return {
    index: d.prepare<[pos: number, tokens: string]>(
      'INSERT OR REPLACE INTO message_search (rowid, tokens) VALUES (?, ?)',
    ),
    unindex: d.prepare<[pos: number]>('DELETE FROM message_search WHERE rowid = ?'),
    posOf: d.pluck<[c: string, seq: number], number>(
      'SELECT pos FROM messages WHERE conversation_id = ? AND seq = ?',
    ),
    // The newest @cap visible matches (the index is read newest first and stops there), ranked
    // by `rankCandidates`. Visibility as in the feed: a membership from joined_pos on, a former one
    // up to left_pos.
    candidates: d.prepare<SearchParams, MessageDbRow>(
      `SELECT m.*
       FROM message_search s JOIN messages m ON m.pos = s.rowid
       WHERE message_search MATCH @q
         AND m.created_at <= @asOf AND m.created_at < @before AND m.created_at > @after
         AND (@conv IS NULL OR m.conversation_id = @conv)
         AND (@sender IS NULL OR m.sender_id = @sender)
         AND (EXISTS (SELECT 1 FROM members mb
                      WHERE mb.conversation_id = m.conversation_id AND mb.user_id = @u AND m.pos > mb.joined_pos)
           OR EXISTS (SELECT 1 FROM former_members f
                      WHERE f.user_id = @u AND f.conversation_id = m.conversation_id
                        AND m.pos > f.joined_pos AND m.pos <= f.left_pos))
       ORDER BY s.rowid DESC
       LIMIT @cap`,
    ),
  };
}

export class SqliteSearch implements SearchStore {
  private readonly s: ReturnType<typeof statements>;

  constructor(private readonly d: SqliteDriver) {
    this.s = statements(d);
  }

  /** Index (or index again) the message at `pos` with `text`; inside the caller's transaction. */
  indexRow(pos: number, conversationId: string, text: string): void {
    this.s.index.run(pos, searchRow(conversationId, text));
  }

  /** Take the message at `pos` out of the index; inside the caller's transaction. */
  unindexRow(pos: number): void {
    this.s.unindex.run(pos);
  }

  /** Index content message `seq` with `text` again, or take it out (null); in the caller's transaction. */
  reindex(conversationId: string, seq: number, text: string | null): void {
    const pos = this.s.posOf.get(conversationId, seq);
    if (pos === undefined) return;
    if (text === null) this.unindexRow(pos);
    else this.indexRow(pos, conversationId, text);
  }

  async search(userId: string, query: SearchQuery, page: SearchPageRequest): Promise<SearchPage> {
    const terms = queryTerms(query.text);
    if (terms.length === 0) return { hits: [], hasMore: false };
    const candidates = (ts: readonly QueryTerm[]) =>
      this.s.candidates.all({
        q:
          query.conversationId === undefined
            ? fts5Query(ts)
            : `${fts5Query(ts)} AND "${conversationToken(query.conversationId)}"`,
        u: userId,
        conv: query.conversationId ?? null,
        sender: query.senderId ?? null,
        before: query.before ?? Number.MAX_SAFE_INTEGER,
        after: query.after ?? -1,
        asOf: page.asOf,
        cap: SEARCH_CANDIDATES,
      });
    // A last word with enough whole-word matches needs no prefix expansion; with fewer, its
    // prefix matches are found too. Every page of a search decides alike: same words, same asOf.
    const whole = wholeWords(terms);
    let rows = whole !== null ? candidates(whole) : [];
    if (rows.length < SEARCH_CANDIDATES) rows = candidates(terms);
    const ranked = rankCandidates(rows, terms, page.asOf).slice(page.offset, page.offset + page.limit + 1);
    return {
      hits: ranked
        .slice(0, page.limit)
        .map((r) => ({ message: toMessage(r), highlights: highlights(r.text, terms) })),
      hasMore: ranked.length > page.limit,
    };
  }

  async indexText(conversationId: string, seq: number, text: string): Promise<void> {
    this.d.writeTx(() => {
      const pos = this.s.posOf.get(conversationId, seq);
      if (pos !== undefined) this.indexRow(pos, conversationId, text);
    })();
  }

  async unindex(conversationId: string, seq: number): Promise<void> {
    this.d.writeTx(() => {
      const pos = this.s.posOf.get(conversationId, seq);
      if (pos !== undefined) this.unindexRow(pos);
    })();
  }
}
