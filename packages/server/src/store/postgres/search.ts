/**
 * Search on PostgreSQL: each message's tokens as a tsvector (`messages.search`, migration 14,
 * GIN-indexed), written by the append in its transaction. A search asks every database that
 * holds one of the user's conversations for its best `offset + limit + 1` and merges them:
 * ts_rank needs no corpus statistics, so scores from different databases compare.
 *
 * pg_trgm is not used: a trigram fallback would find messages the embedded store does not,
 * and every store must answer a query alike; CJK substrings are found through bigrams.
 */
import type { SearchHit, SearchPage, SearchPageRequest, SearchQuery, SearchStore } from '../store.js';
import { toMessage } from '../common/rows.js';
import type { MessageDbRow } from '../common/rows.js';
import {
  SEARCH_CANDIDATES,
  SEARCH_RECENCY_MS,
  highlights,
  queryTerms,
  tsQuery,
  tsVector,
} from '../common/search-text.js';
import { databasesOf } from './messages.js';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';
import { mapError } from './postgres-driver.js';

type ScoredRow = MessageDbRow & { score: number };

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
 * One database's best matches: the user's parts of its conversations (a membership from
 * joined_pos on, a former one up to left_pos), their newest $10 matching messages, best first.
 */
const SEARCH_SQL = `
  WITH p AS (
    SELECT mb.conversation_id AS id, mb.joined_pos AS lo, NULL::int8 AS hi
    FROM members mb WHERE mb.user_id = $1 AND ($3::text IS NULL OR mb.conversation_id = $3)
    UNION ALL
    SELECT f.conversation_id, f.joined_pos, f.left_pos
    FROM former_members f WHERE f.user_id = $1 AND ($3::text IS NULL OR f.conversation_id = $3)
  )
  SELECT c.*, c.rel / (1.0 + ($7::int8 - c.created_at)::float8 / $8::float8) AS score FROM (
    SELECT m.conversation_id, m.seq, m.pos, m.id, m.sender_id, m.client_id, m.text, m.created_at,
      m.attachments, ts_rank(m.search, $2::tsquery) AS rel
    FROM p JOIN messages m ON m.conversation_id = p.id AND m.pos > p.lo AND (p.hi IS NULL OR m.pos <= p.hi)
    WHERE m.search @@ $2::tsquery
      AND m.created_at <= $7::int8 AND m.created_at < $5::int8 AND m.created_at > $6::int8
      AND ($4::text IS NULL OR m.sender_id = $4)
    ORDER BY m.pos DESC
    LIMIT $10) c
  ORDER BY score DESC, c.pos DESC
  LIMIT $9`;

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
    const want = page.offset + page.limit + 1;
    const params = [
      userId,
      tsQuery(terms),
      query.conversationId ?? null,
      query.senderId ?? null,
      query.before ?? Number.MAX_SAFE_INTEGER,
      query.after ?? -1,
      page.asOf,
      SEARCH_RECENCY_MS,
      want,
      SEARCH_CANDIDATES,
    ];
    const parts = await Promise.all(
      dbs.map((db) => db.rows<ScoredRow>(SEARCH_SQL, params, 'parley_search_v3')),
    );
    const rows = parts.flat();
    if (parts.length > 1) rows.sort((a, b) => b.score - a.score || b.pos - a.pos);
    const shown = rows.slice(page.offset, page.offset + page.limit);
    return {
      hits: shown.map((r): SearchHit => ({ message: toMessage(r), highlights: highlights(r.text, terms) })),
      hasMore: rows.length > page.offset + page.limit,
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
