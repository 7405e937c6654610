/**
 * Search over a user's messages (`GET /v1/search`): checks the query, reads the store's
 * search port and pages with an opaque cursor. Who sees what is the store's rule (the feed's):
 * a conversation the user is not in answers no hits, like one that does not exist.
 */
import { MAX_SEARCH_PAGE, MAX_SEARCH_QUERY_LENGTH, MAX_SEARCH_RESULTS, ParleyError } from '@parley/protocol';
import type { SearchPage } from '@parley/protocol';
import { KeyedBuckets } from '../rate-limit.js';
import type { SearchQuery, SearchStore } from '../store/store.js';

export interface SearchRequest {
  q: string;
  conversation?: string;
  sender?: string;
  before?: number;
  after?: number;
  limit?: number;
  cursor?: string;
}

export interface SearchServiceOptions {
  /** Searches per second per user, sustained and burst (each may read many index pages). Default 5 and 20. */
  ratePerSec?: number;
  burst?: number;
}

/** A cursor: where the next page starts, and the time the first page counted messages up to. */
interface Cursor {
  offset: number;
  asOf: number;
}

/** `<asOf>.<offset>` in base 36: opaque to clients, checked strictly here. */
function formatCursor(c: Cursor): string {
  return `${c.asOf.toString(36)}.${c.offset.toString(36)}`;
}

function parseCursor(s: string): Cursor {
  const m = /^([0-9a-z]{1,11})\.([0-9a-z]{1,4})$/.exec(s);
  const asOf = m ? parseInt(m[1] as string, 36) : NaN;
  const offset = m ? parseInt(m[2] as string, 36) : NaN;
  if (!Number.isSafeInteger(asOf) || !(offset > 0 && offset < MAX_SEARCH_RESULTS))
    throw new ParleyError('invalid_field', 'cursor is not one this server gave');
  return { asOf, offset };
}

export class SearchService {
  private readonly perUser: KeyedBuckets;

  constructor(
    private readonly store: SearchStore,
    opts: SearchServiceOptions = {},
  ) {
    this.perUser = new KeyedBuckets(opts.ratePerSec ?? 5, opts.burst ?? 20);
  }

  /** Throws `invalid_field` for a bad query or cursor, `rate_limited` past the user's rate. */
  async search(userId: string, r: SearchRequest, now = Date.now()): Promise<SearchPage> {
    if (r.q.trim() === '') throw new ParleyError('invalid_field', 'q is empty');
    if (r.q.length > MAX_SEARCH_QUERY_LENGTH)
      throw new ParleyError('invalid_field', `q is longer than ${MAX_SEARCH_QUERY_LENGTH} characters`);
    const at = r.cursor !== undefined ? parseCursor(r.cursor) : { offset: 0, asOf: now };
    if (!this.perUser.take(userId, now))
      throw new ParleyError('rate_limited', 'Too many searches; slow down');
    const limit = Math.min(Math.max(r.limit ?? 20, 1), MAX_SEARCH_PAGE, MAX_SEARCH_RESULTS - at.offset);
    const query: SearchQuery = { text: r.q };
    if (r.conversation !== undefined) query.conversationId = r.conversation;
    if (r.sender !== undefined) query.senderId = r.sender;
    if (r.before !== undefined) query.before = r.before;
    if (r.after !== undefined) query.after = r.after;
    const page = await this.store.search(userId, query, { offset: at.offset, limit, asOf: at.asOf });
    const next = at.offset + page.hits.length;
    return {
      hits: page.hits.map((h) => ({
        message: h.message,
        conversationId: h.message.conversationId,
        seq: h.message.seq,
        highlights: h.highlights,
      })),
      cursor:
        page.hasMore && next < MAX_SEARCH_RESULTS ? formatCursor({ offset: next, asOf: at.asOf }) : null,
    };
  }
}
