/**
 * Full-text search over the messages a user can see: the index (kept in the append's
 * transaction) and its queries. Tokens, query terms and highlights come from
 * common/search-text.ts, so every adapter finds and highlights the same.
 */
import type { Message } from '@parley/protocol';

/** What to look for, and where. */
export interface SearchQuery {
  /** The words; the last one also matches as a prefix. */
  text: string;
  /** Only this conversation. */
  conversationId?: string;
  /** Only messages of this sender. */
  senderId?: string;
  /** Only messages created before this time (ms, exclusive). */
  before?: number;
  /** Only messages created after this time (ms, exclusive). */
  after?: number;
}

export interface SearchHit {
  message: Message;
  /** Where the query's words are in `message.text`: UTF-16 offsets [start, end), sorted. */
  highlights: [number, number][];
}

/**
 * Which page: results `offset` to `offset + limit` in rank order, counted among the messages
 * created at or before `asOf` (ms), so that later messages do not shift the pages of one search.
 */
export interface SearchPageRequest {
  offset: number;
  limit: number;
  asOf: number;
}

export interface SearchPage {
  hits: SearchHit[];
  hasMore: boolean;
}

export interface SearchStore {
  /**
   * Messages matching every word of `query.text`, among those `userId` can see: messages of a
   * conversation they are a member of, stored after they joined it (`joined_pos`), and of
   * conversations they left, up to when they left (`former_members`), like their feed.
   * Ranked by relevance weighted by age (newer first among equals), then newest first.
   * A query with no word answers no hit.
   */
  search(userId: string, query: SearchQuery, page: SearchPageRequest): Promise<SearchPage>;
  /**
   * (Re)index one stored message's text: what an edit calls after changing the text (the
   * append indexes new messages itself, in its transaction). Unknown messages are ignored.
   */
  indexText(conversationId: string, seq: number, text: string): Promise<void>;
  /** Take one message out of the index (a message erased for everyone). */
  unindex(conversationId: string, seq: number): Promise<void>;
}
