/**
 * Search on PostgreSQL: each message's tokens as a tsvector (`messages.search`, migration 14,
 * GIN-indexed), written by the append in its transaction. A search asks every database that
 * holds one of the user's conversations for its newest visible matches and ranks them all
 * together as the embedded store does (`rankCandidates`), from their text alone, so that
 * candidates from different databases compare.
 *
 * pg_trgm is not used: a trigram fallback would find messages the embedded store does not,
 * and every store must answer a query alike; CJK substrings are found through bigrams.
 */
import type { SearchHit, SearchPage, SearchPageRequest, SearchQuery, SearchStore } from '../store.js';
import { toMessage } from '../common/rows.js';
import type { MessageDbRow } from '../common/rows.js';
import {
  SEARCH_CANDIDATES,
  highlights,
  queryTerms,
  rankCandidates,
  tsQuery,
  tsVector,
  wholeWords,
} from '../common/search-text.js';
import type { QueryTerm } from '../common/search-text.js';
import { databasesOf } from './messages.js';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';
import { mapError } from './postgres-driver.js';

/**
 * Index (or index again) one message's text; on `q`, so that an edit can run it in its own
 * transaction. The one place, with the append's `tsv`, where text enters the index.
 */
export async function indexTextOn(
  q: Queryable,
  conversationId: string,
  seq: number,
  text: string,
): Promise<void> {
  await q.query('UPDATE messages SET search = $3::tsvector WHERE conversation_id = $1 AND seq = $2', [
    conversationId,
    seq,
    tsVector(text),
  ]);
}

/** Take one message out of the index; on `q` (see `indexTextOn`). */
export async function unindexOn(q: Queryable, conversationId: string, seq: number): Promise<void> {
  await q.query('UPDATE messages SET search = NULL WHERE conversation_id = $1 AND seq = $2', [
    conversationId,
    seq,
  ]);
}

/**
 * One database's candidates: the user's parts of its conversations (a membership from
 * joined_pos on, a former one up to left_pos), their newest $8 matching messages.
 */
const SEARCH_SQL = `
  WITH p AS (
    SELECT mb.conversation_id AS id, mb.joined_pos AS lo, NULL::int8 AS hi
    FROM members mb WHERE mb.user_id = $1 AND ($3::text IS NULL OR mb.conversation_id = $3)
    UNION ALL
    SELECT f.conversation_id, f.joined_pos, f.left_pos
    FROM former_members f WHERE f.user_id = $1 AND ($3::text IS NULL OR f.conversation_id = $3)
  )
  SELECT m.conversation_id, m.seq, m.pos, m.id, m.sender_id, m.client_id, m.text, m.created_at,
    m.attachments
  FROM p JOIN messages m ON m.conversation_id = p.id AND m.pos > p.lo AND (p.hi IS NULL OR m.pos <= p.hi)
  WHERE m.search @@ $2::tsquery
    AND m.created_at <= $7::int8 AND m.created_at < $5::int8 AND m.created_at > $6::int8
    AND ($4::text IS NULL OR m.sender_id = $4)
  ORDER BY m.pos DESC
  LIMIT $8`;

export class PgSearch implements SearchStore {
  constructor(private readonly shards: PgShards) {}

  async search(userId: string, query: SearchQuery, page: SearchPageRequest): Promise<SearchPage> {
    const terms = queryTerms(query.text);
    // PostgreSQL text holds no NUL: an id with one names nothing.
    const nul = [userId, query.conversationId ?? '', query.senderId ?? ''].some((s) => s.includes('\u0000'));
    if (terms.length === 0 || nul) return { hits: [], hasMore: false };
    const dbs: PgDatabase[] =
      query.conversationId !== undefined
        ? [this.shards.of(query.conversationId)]
        : ((await databasesOf(this.shards, [userId]))[0] ?? []);
    const candidates = async (ts: readonly QueryTerm[]): Promise<MessageDbRow[]> => {
      const params = [
        userId,
        tsQuery(ts),
        query.conversationId ?? null,
        query.senderId ?? null,
        query.before ?? Number.MAX_SAFE_INTEGER,
        query.after ?? -1,
        page.asOf,
        SEARCH_CANDIDATES,
      ];
      const parts = await Promise.all(
        dbs.map((db) => db.rows<MessageDbRow>(SEARCH_SQL, params, 'parley_search_v4')),
      );
      return parts.flat();
    };
    // As the embedded store: whole words first, prefixes when they have too few matches.
    const whole = wholeWords(terms);
    let rows = whole !== null ? await candidates(whole) : [];
    if (rows.length < SEARCH_CANDIDATES) rows = await candidates(terms);
    const ranked = rankCandidates(rows, terms, page.asOf);
    const shown = ranked.slice(page.offset, page.offset + page.limit);
    return {
      hits: shown.map((r): SearchHit => ({ message: toMessage(r), highlights: highlights(r.text, terms) })),
      hasMore: ranked.length > page.offset + page.limit,
    };
  }

  async indexText(conversationId: string, seq: number, text: string): Promise<void> {
    if (conversationId.includes('\u0000')) return;
    try {
      await indexTextOn(this.shards.of(conversationId).pool, conversationId, seq, text);
    } catch (err) {
      throw mapError(err);
    }
  }

  async unindex(conversationId: string, seq: number): Promise<void> {
    if (conversationId.includes('\u0000')) return;
    try {
      await unindexOn(this.shards.of(conversationId).pool, conversationId, seq);
    } catch (err) {
      throw mapError(err);
    }
  }
}
