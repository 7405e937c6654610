/**
 * Schema migrations for the PostgreSQL store, applied in order at startup (see
 * `migrate()` in postgres-store.ts); `schema_migrations` records which versions ran.
 * Append new migrations; never edit a released one.
 *
 * Layout notes (messages stored by key, as a key-value store would hold them):
 * - `messages` is keyed by (conversation_id, seq) and partitioned by a hash of
 *   conversation_id, so a conversation's history is one index range in one partition and
 *   partitions can later move to separate tablespaces or shards.
 * - PostgreSQL requires every unique index of a partitioned table to include the partition
 *   key. Idempotency is unique on (sender_id, client_id), which does not contain
 *   conversation_id, so it lives in its own small table `message_keys` pointing at the
 *   message. The same goes for `pos`: its uniqueness is guaranteed by how it is assigned
 *   (one sequence, see appendMessages) and indexed through `feed`.
 * - A user's feed is read from the messages of their conversations (fan-out on read,
 *   migration 10), as in the embedded store: `members.joined_pos` is where it starts in each
 *   conversation, `former_members` keeps the part of a conversation a removed member had, and
 *   `feed_heads` holds each user's newest position. Migrations 1-9 kept a `feed` row per
 *   (member, message) instead, written under one global append lock.
 * - Ids and usernames use the "C" collation: byte order, like the embedded store, and cheaper
 *   comparisons than a locale collation.
 */

import type { Queryable } from './postgres-driver.js';
import { tsVector } from '../common/search-text.js';

/** Logical shards of a new deployment: enough to spread over 64 databases without rehashing. */
export const NEW_DEPLOYMENT_SHARDS = 64;

export interface PostgresMigrationOptions {
  /** Hash partitions of `messages`; only read when the table is first created. */
  messagePartitions: number;
}

export interface PostgresMigration {
  version: number;
  name: string;
  sql(opts: PostgresMigrationOptions): string;
  /** A step SQL cannot say (work done in JavaScript), run after `sql` in its transaction. */
  after?(c: Queryable): Promise<void>;
}

function messagePartitions(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new Error(`messagePartitions must be 1-1024, got ${n}`);
  return Array.from(
    { length: n },
    (_, i) =>
      `CREATE TABLE messages_p${i} PARTITION OF messages FOR VALUES WITH (MODULUS ${n}, REMAINDER ${i});`,
  ).join('\n');
}

/**
 * parley_append: the whole append of a batch inside PostgreSQL (migration 4), with the CTEs
 * that look up idempotency keys and conversations given by each migration that (re)defines it.
 */
function appendFunction(
  create: 'CREATE FUNCTION' | 'CREATE OR REPLACE FUNCTION',
  lookups: string,
  io: AppendIo = ARRAYS_IO,
): string {
  return `
      ${create} ${io.signature} LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      BEGIN
        PERFORM pg_advisory_xact_lock(lock_key);
        RETURN QUERY
        WITH q AS (
${io.input}
${lookups}        ), cls AS (
          SELECT q.*, c.members, c.last_seq,
            p.seq AS p_seq, p.pos AS p_pos, p.id AS p_id, p.created_at AS p_at,
            CASE
              WHEN p.i IS NOT NULL THEN
                CASE WHEN p.conversation_id = q.conv AND p.text = q.txt THEN 'duplicate' ELSE 'client_id_conflict' END
              WHEN c.id IS NULL OR NOT (q.sender = ANY (c.members)) THEN 'not_found'
              WHEN cardinality(c.members) = 2 AND c.blocked THEN 'blocked'
              ELSE 'fresh'
            END AS status
          FROM q LEFT JOIN prior p ON p.i = q.i LEFT JOIN convs c ON c.id = q.conv
        ), fresh AS (
          SELECT cls.*,
            row_number() OVER (ORDER BY cls.i) AS k,
            cls.last_seq + row_number() OVER (PARTITION BY cls.conv ORDER BY cls.i) AS new_seq
          FROM cls WHERE cls.status = 'fresh'
        ), nf AS (
          SELECT count(*) AS n FROM fresh
        ), reserve AS (
          -- Under the append lock nobody else takes positions: n in a row.
          SELECT CASE WHEN nf.n > 0 THEN setval('feed_pos', nextval('feed_pos') + nf.n - 1) END AS last_pos FROM nf
        ), placed AS (
          SELECT f.*, r.last_pos - nf.n + f.k AS new_pos FROM fresh f, reserve r, nf
        ), bump AS (
          UPDATE conversations c SET last_seq = v.s, last_activity_at = v.sent_at
          FROM (SELECT pl.conv, max(pl.new_seq) AS s, max(pl.sent_at) AS sent_at FROM placed pl GROUP BY pl.conv) v
          WHERE c.id = v.conv
        ), rec AS (
          SELECT pl.i, pl.new_pos, pl.conv, pl.new_seq, u.user_id, u.ord
          FROM placed pl, unnest(pl.members) WITH ORDINALITY AS u(user_id, ord)
        ), heads AS (
          SELECT d.user_id, (SELECT max(f.pos) FROM feed f WHERE f.user_id = d.user_id) AS head
          FROM (SELECT DISTINCT rec.user_id FROM rec) d
        ), chain AS (
          SELECT rec.*, coalesce(lag(rec.new_pos) OVER (PARTITION BY rec.user_id ORDER BY rec.new_pos), h.head, 0) AS prev
          FROM rec JOIN heads h ON h.user_id = rec.user_id
        ), ins_messages AS (
          INSERT INTO messages (conversation_id, seq, pos, id, sender_id, client_id, text, created_at)
          SELECT pl.conv, pl.new_seq, pl.new_pos, pl.mid, pl.sender, pl.client, pl.txt, pl.sent_at FROM placed pl
        ), ins_keys AS (
          INSERT INTO message_keys (sender_id, client_id, conversation_id, seq)
          SELECT pl.sender, pl.client, pl.conv, pl.new_seq FROM placed pl
        ), ins_feed AS (
          INSERT INTO feed (user_id, pos, conversation_id, seq)
          SELECT ch.user_id, ch.new_pos, ch.conv, ch.new_seq FROM chain ch
        ), sender_read AS (
          -- A sender has read their own messages.
          UPDATE members mb SET read_seq = v.s
          FROM (SELECT pl.conv, pl.sender, max(pl.new_seq) AS s FROM placed pl GROUP BY pl.conv, pl.sender) v
          WHERE mb.conversation_id = v.conv AND mb.user_id = v.sender AND mb.read_seq < v.s
        ), prevs AS (
          SELECT ch.i, array_agg(ch.prev ORDER BY ch.ord) AS prev FROM chain ch GROUP BY ch.i
        )
${io.output};
      END
      $fn$;
    `;
}

/** How `parley_append` takes its batch and answers: its signature, `q` and the last SELECT. */
interface AppendIo {
  signature: string;
  input: string;
  output: string;
}

const FROM_CLASSIFIED = 'FROM cls LEFT JOIN placed pl ON pl.i = cls.i LEFT JOIN prevs pv ON pv.i = cls.i';

/** Migrations 4 and 5: one array per field in, one row per message out. */
const ARRAYS_IO: AppendIo = {
  signature: `parley_append(
        lock_key bigint, p_conv text[], p_sender text[], p_client text[], p_id text[], p_text text[], p_at bigint[]
      ) RETURNS TABLE (
        i int, status text, seq bigint, pos bigint, id text, created_at bigint, members text[], prev bigint[]
      )`,
  input: `          SELECT t.* FROM unnest(p_conv, p_sender, p_client, p_id, p_text, p_at)
            WITH ORDINALITY AS t(conv, sender, client, mid, txt, sent_at, i)`,
  output: `        SELECT cls.i::int, cls.status,
          coalesce(pl.new_seq, cls.p_seq), coalesce(pl.new_pos, cls.p_pos), coalesce(cls.p_id, cls.mid),
          coalesce(cls.p_at, cls.sent_at), pl.members, pv.prev
        ${FROM_CLASSIFIED}
        ORDER BY cls.i`,
};

/**
 * Migration 6: the batch as one JSON array of objects in, one JSON array of
 * `[i, status, seq, pos, id, created_at, members, prev]` out. The same work inside
 * PostgreSQL, but the chat server encodes and decodes with V8's native JSON instead of
 * building six array literals and parsing two arrays per row in JavaScript.
 */
const JSON_IO: AppendIo = {
  signature: `parley_append_json(lock_key bigint, batch json) RETURNS TABLE (r json)`,
  input: `          SELECT t.* FROM json_to_recordset(batch)
            AS t(conv text, sender text, client text, mid text, txt text, sent_at bigint, i bigint)`,
  output: `        SELECT coalesce(json_agg(json_build_array(cls.i, cls.status,
          coalesce(pl.new_seq, cls.p_seq), coalesce(pl.new_pos, cls.p_pos), coalesce(cls.p_id, cls.mid),
          coalesce(cls.p_at, cls.sent_at), pl.members, pv.prev) ORDER BY cls.i), '[]'::json)
        ${FROM_CLASSIFIED}`,
};

/** Migration 4's lookups: joins, which the planner may run as sequential scans. */
const LOOKUPS_BY_JOIN = `        ), prior AS (
          SELECT q.i, m.conversation_id, m.seq, m.pos, m.id, m.text, m.created_at
          FROM q
          JOIN message_keys k ON k.sender_id = q.sender AND k.client_id = q.client
          JOIN messages m ON m.conversation_id = k.conversation_id AND m.seq = k.seq
        ), convs AS (
          SELECT c.id, c.blocked, c.last_seq, array_agg(mb.user_id ORDER BY mb.user_id) AS members
          FROM conversations c JOIN members mb ON mb.conversation_id = c.id
          WHERE c.id IN (SELECT q.conv FROM q)
          GROUP BY c.id
`;

/** One LATERAL primary-key probe per message and per conversation (migration 5). */
const LOOKUPS_BY_PROBE = `        ), prior AS (
          -- One primary-key probe per message (LIMIT 1 keeps each lookup a parameterized
          -- index scan, whatever the table statistics say).
          SELECT q.i, m.conversation_id, m.seq, m.pos, m.id, m.text, m.created_at
          FROM q
          CROSS JOIN LATERAL (
            SELECT k.conversation_id, k.seq FROM message_keys k
            WHERE k.sender_id = q.sender AND k.client_id = q.client LIMIT 1) k
          CROSS JOIN LATERAL (
            SELECT m.* FROM messages m WHERE m.conversation_id = k.conversation_id AND m.seq = k.seq LIMIT 1) m
        ), convs AS (
          SELECT c.id, c.blocked, c.last_seq, mb.members
          FROM (SELECT DISTINCT q.conv FROM q) d
          CROSS JOIN LATERAL (SELECT c.* FROM conversations c WHERE c.id = d.conv LIMIT 1) c
          CROSS JOIN LATERAL (
            SELECT array_agg(mb.user_id ORDER BY mb.user_id) AS members
            FROM members mb WHERE mb.conversation_id = c.id) mb
          WHERE mb.members IS NOT NULL
`;

/**
 * Migration 10: from `feed` rows to fan-out on read. A (user, conversation) pair's feed rows
 * form runs of consecutive seqs, one per stretch of membership (seqs have no gaps): the
 * current member's run that reaches the conversation's newest message gives `joined_pos`,
 * every other run becomes a `former_members` row, so catch-up answers exactly what the feed
 * rows did. A run starts after the message before its first one (position 0 for seq 1).
 */
const FEED_TO_FAN_OUT = `
      ALTER TABLE conversations ADD COLUMN last_pos bigint NOT NULL DEFAULT 0;
      ALTER TABLE members ADD COLUMN joined_pos bigint NOT NULL DEFAULT 0;
      CREATE TABLE former_members (
        user_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        joined_pos bigint NOT NULL,
        left_pos bigint NOT NULL,
        PRIMARY KEY (user_id, conversation_id, left_pos)
      );
      CREATE TABLE feed_heads (
        user_id text COLLATE "C" PRIMARY KEY,
        head bigint NOT NULL DEFAULT 0
      );
      -- Catch-up reads each conversation's part of a feed by position.
      CREATE INDEX messages_pos ON messages (conversation_id, pos);

      UPDATE conversations c SET last_pos = m.pos
      FROM messages m WHERE m.conversation_id = c.id AND m.seq = c.last_seq;
      UPDATE members mb SET joined_pos = c.last_pos FROM conversations c WHERE c.id = mb.conversation_id;

      CREATE TEMPORARY TABLE feed_runs ON COMMIT DROP AS
      SELECT r.user_id, r.conversation_id, min(r.seq) AS first_seq, max(r.seq) AS last_seq,
        max(r.pos) AS left_pos, 0::bigint AS joined_pos
      FROM (
        SELECT f.user_id, f.conversation_id, f.seq, f.pos,
          f.seq - row_number() OVER (PARTITION BY f.user_id, f.conversation_id ORDER BY f.seq) AS run
        FROM feed f
      ) r
      GROUP BY r.user_id, r.conversation_id, r.run;
      UPDATE feed_runs r SET joined_pos = m.pos
      FROM messages m WHERE m.conversation_id = r.conversation_id AND m.seq = r.first_seq - 1;
      UPDATE members mb SET joined_pos = r.joined_pos
      FROM feed_runs r, conversations c
      WHERE r.user_id = mb.user_id AND r.conversation_id = mb.conversation_id
        AND c.id = mb.conversation_id AND r.last_seq = c.last_seq;
      DELETE FROM feed_runs r USING members mb, conversations c
      WHERE r.user_id = mb.user_id AND r.conversation_id = mb.conversation_id
        AND c.id = mb.conversation_id AND r.last_seq = c.last_seq;
      INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos)
      SELECT user_id, conversation_id, joined_pos, left_pos FROM feed_runs;

      INSERT INTO feed_heads (user_id, head)
      SELECT u.id, coalesce((SELECT max(f.pos) FROM feed f WHERE f.user_id = u.id), 0) FROM users u;

      -- The appends of migrations 4-6 write feed rows under the global lock: gone with them
      -- (migration 11 brings the append that replaces them).
      DROP FUNCTION parley_append(bigint, text[], text[], text[], text[], text[], bigint[]);
      DROP FUNCTION parley_append_json(bigint, json);
      DROP TABLE feed;
`;

/**
 * Migration 11's append, without a global lock. Each batch locks what it writes, in one order
 * every appender follows (so two batches never wait on each other in a cycle): first its
 * conversations, by id (their seq counters), then its members' feed heads, by (user, shard).
 * Batches for different people commit in parallel.
 *
 * A message's position is `nextval(feed_pos) × spaces + shard` (its conversation's logical
 * shard), so the position tells its space; the sequence is read only once the heads are
 * locked. Two batches that share a recipient in a space therefore take positions one after
 * the other, the second after the first has committed (PostgreSQL makes a commit visible
 * before it releases the locks). So within a space every user's feed grows in position order:
 * a reader that has seen position P there never finds a message below P appearing later,
 * whatever order other batches commit in. A logical shard keeps its positions when it moves
 * to another database (whose sequence is first set past them).
 *
 * Each statement of a PL/pgSQL function takes a fresh snapshot (READ COMMITTED), so the
 * statement after the locks sees every batch committed before them.
 */
const APPEND_BATCH_SHARDED = `
      CREATE FUNCTION parley_append_batch(batch json, spaces int) RETURNS json LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        answer json;
      BEGIN
        PERFORM 1 FROM conversations c
          WHERE c.id IN (SELECT t.conv FROM json_to_recordset(batch) AS t(conv text))
          ORDER BY c.id FOR UPDATE;
        -- Lock the recipients' feed heads per (user, shard), in that order; a member's first
        -- message in a shard inserts the row (a second batch inserting it waits for the first
        -- one's commit). One statement: the upsert locks an existing row as it finds it.
        INSERT INTO feed_heads AS h (user_id, shard)
          SELECT DISTINCT mb.user_id, c.shard FROM members mb JOIN conversations c ON c.id = mb.conversation_id
          WHERE c.id IN (SELECT t.conv FROM json_to_recordset(batch) AS t(conv text))
          ORDER BY 1, 2
          ON CONFLICT (user_id, shard) DO UPDATE SET head = h.head;
        WITH q AS (
          SELECT t.* FROM json_to_recordset(batch)
            AS t(conv text, sender text, client text, mid text, txt text, sent_at bigint, i bigint)
${LOOKUPS_BY_PROBE.replace('SELECT c.id, c.blocked, c.last_seq,', 'SELECT c.id, c.blocked, c.last_seq, c.shard,')}        ), cls AS (
          SELECT q.*, c.members, c.last_seq, c.shard,
            p.seq AS p_seq, p.pos AS p_pos, p.id AS p_id, p.created_at AS p_at,
            CASE
              WHEN p.i IS NOT NULL THEN
                CASE WHEN p.conversation_id = q.conv AND p.text = q.txt THEN 'duplicate' ELSE 'client_id_conflict' END
              WHEN c.id IS NULL OR NOT (q.sender = ANY (c.members)) THEN 'not_found'
              WHEN cardinality(c.members) = 2 AND c.blocked THEN 'blocked'
              ELSE 'fresh'
            END AS status
          FROM q LEFT JOIN prior p ON p.i = q.i LEFT JOIN convs c ON c.id = q.conv
        ), fresh AS (
          SELECT cls.*,
            row_number() OVER (ORDER BY cls.i) AS k,
            cls.last_seq + row_number() OVER (PARTITION BY cls.conv ORDER BY cls.i) AS new_seq
          FROM cls WHERE cls.status = 'fresh'
        ), taken AS (
          -- Other batches take positions meanwhile: sort ours, then hand them out in batch order
          -- (by array index: a join of the two lists was planned as a nested loop).
          SELECT array_agg(v.p ORDER BY v.p) AS ps FROM (SELECT nextval('feed_pos') AS p FROM fresh) v
        ), placed AS (
          SELECT f.*, t.ps[f.k] * spaces + f.shard AS new_pos FROM fresh f, taken t
        ), bump AS (
          UPDATE conversations c SET last_seq = v.s, last_pos = v.p, last_activity_at = v.sent_at
          FROM (SELECT pl.conv, max(pl.new_seq) AS s, max(pl.new_pos) AS p, max(pl.sent_at) AS sent_at
                FROM placed pl GROUP BY pl.conv) v
          WHERE c.id = v.conv
        ), rec AS (
          SELECT pl.i, pl.new_pos, pl.shard, u.user_id, u.ord
          FROM placed pl, unnest(pl.members) WITH ORDINALITY AS u(user_id, ord)
        ), chain AS (
          SELECT rec.*,
            coalesce(lag(rec.new_pos) OVER (PARTITION BY rec.user_id, rec.shard ORDER BY rec.new_pos),
              h.head, 0) AS prev
          FROM rec LEFT JOIN feed_heads h ON h.user_id = rec.user_id AND h.shard = rec.shard
        ), heads AS (
          INSERT INTO feed_heads (user_id, shard, head)
          SELECT rec.user_id, rec.shard, max(rec.new_pos) FROM rec GROUP BY rec.user_id, rec.shard
          ON CONFLICT (user_id, shard) DO UPDATE SET head = excluded.head
        ), ins_messages AS (
          INSERT INTO messages (conversation_id, seq, pos, id, sender_id, client_id, text, created_at)
          SELECT pl.conv, pl.new_seq, pl.new_pos, pl.mid, pl.sender, pl.client, pl.txt, pl.sent_at FROM placed pl
        ), ins_keys AS (
          INSERT INTO message_keys (sender_id, client_id, conversation_id, seq)
          SELECT pl.sender, pl.client, pl.conv, pl.new_seq FROM placed pl
        ), sender_read AS (
          -- A sender has read their own messages.
          UPDATE members mb SET read_seq = v.s
          FROM (SELECT pl.conv, pl.sender, max(pl.new_seq) AS s FROM placed pl GROUP BY pl.conv, pl.sender) v
          WHERE mb.conversation_id = v.conv AND mb.user_id = v.sender AND mb.read_seq < v.s
        ), prevs AS (
          SELECT ch.i, array_agg(ch.prev ORDER BY ch.ord) AS prev FROM chain ch GROUP BY ch.i
        )
        SELECT coalesce(json_agg(json_build_array(cls.i, cls.status,
          coalesce(pl.new_seq, cls.p_seq), coalesce(pl.new_pos, cls.p_pos), coalesce(cls.p_id, cls.mid),
          coalesce(cls.p_at, cls.sent_at), pl.members, pv.prev) ORDER BY cls.i), '[]'::json)
        INTO answer
        ${FROM_CLASSIFIED};
        RETURN answer;
      END
      $fn$;
`;

/**
 * Migration 11: rows placed over several databases. Every database gets the same schema and
 * holds the rows of the keys placed on it: the index tables below let a row be found from a
 * key that is not its owner's (a username, a token hash, a pair of users, a user's
 * conversations). On a database of one deployment so far, they are filled from its rows.
 * `logical_shards` is decided once, by the catalog: a database that already has messages
 * keeps one logical shard (its positions stay as they are), a new one gets 64.
 */
const SHARDED_LAYOUT = `
      ALTER TABLE conversations ADD COLUMN shard smallint NOT NULL DEFAULT 0;
      ALTER TABLE feed_heads ADD COLUMN shard smallint NOT NULL DEFAULT 0;
      ALTER TABLE feed_heads DROP CONSTRAINT feed_heads_pkey;
      ALTER TABLE feed_heads ADD PRIMARY KEY (user_id, shard);

      CREATE TABLE usernames (
        username text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL
      );
      INSERT INTO usernames (username, user_id) SELECT username, id FROM users;
      CREATE TABLE device_tokens (
        token_hash text COLLATE "C" PRIMARY KEY,
        device_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL
      );
      INSERT INTO device_tokens (token_hash, device_id, user_id) SELECT token_hash, id, user_id FROM devices;
      CREATE TABLE direct_pairs (
        direct_key text COLLATE "C" PRIMARY KEY,
        conversation_id text COLLATE "C" NOT NULL
      );
      INSERT INTO direct_pairs (direct_key, conversation_id)
      SELECT direct_key, id FROM conversations WHERE direct_key IS NOT NULL;
      -- A user's conversations, on the user's database: every conversation they are or were a
      -- member of (member = false once they left: their feed keeps a part of it).
      CREATE TABLE user_conversations (
        user_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        shard smallint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('direct', 'group')),
        -- For a direct conversation: the other member (the user for a note-to-self).
        peer_id text COLLATE "C",
        member boolean NOT NULL DEFAULT true,
        PRIMARY KEY (user_id, conversation_id)
      );
      INSERT INTO user_conversations (user_id, conversation_id, shard, kind, peer_id, member)
      SELECT x.user_id, c.id, c.shard, c.kind,
        CASE WHEN c.kind = 'direct' THEN coalesce(
          (SELECT p.user_id FROM members p WHERE p.conversation_id = c.id AND p.user_id <> x.user_id LIMIT 1),
          x.user_id) END,
        EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = c.id AND m.user_id = x.user_id)
      FROM (SELECT user_id, conversation_id FROM members
            UNION SELECT user_id, conversation_id FROM former_members
            UNION SELECT user_id, conversation_id FROM left_members) x
      JOIN conversations c ON c.id = x.conversation_id;

      -- accounts: when a username's index row was claimed. One whose user does not exist is
      -- taken over only once its creation has had time to write the user (or has crashed).
      ALTER TABLE usernames ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();

      -- conversations: the quota of new conversations per user (createdSince) is read from the
      -- creator's database, where their index rows are.
      ALTER TABLE user_conversations
        ADD COLUMN created_at bigint NOT NULL DEFAULT 0,
        ADD COLUMN creator boolean NOT NULL DEFAULT false;
      UPDATE user_conversations uc
      SET created_at = c.created_at, creator = (c.created_by IS NOT DISTINCT FROM uc.user_id)
      FROM conversations c WHERE c.id = uc.conversation_id;
      CREATE INDEX user_conversations_created ON user_conversations (user_id, created_at) WHERE creator;

      INSERT INTO server_values (key, value)
      SELECT 'logical_shards', CASE WHEN EXISTS (SELECT 1 FROM messages) THEN '1' ELSE '${NEW_DEPLOYMENT_SHARDS}' END
      ON CONFLICT (key) DO NOTHING;

      ${APPEND_BATCH_SHARDED}
`;

/** `text` with `from` replaced by `to`; throws when `from` is not in it (a migration built wrong). */
function replaced(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`migration text lacks: ${from}`);
  return text.replace(from, to);
}

/**
 * Migration 12's append: migration 11's with the columns of message actions. A row's kind,
 * target, private audience (`vis`: only that user's feed has it, so only their feed head
 * moves and only they are recipients), reply, forwarded flag and mentions come in the batch.
 * A resend whose original was edited or erased since answers as a duplicate.
 */
const APPEND_BATCH_ACTIONS = [
  ['CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'],
  [
    'AS t(conv text, sender text, client text, mid text, txt text, sent_at bigint, i bigint)',
    'AS t(conv text, sender text, client text, mid text, txt text, sent_at bigint, i bigint,\n' +
      '              kind text, target bigint, vis text, reply bigint, fwd boolean, ments text)',
  ],
  [
    'SELECT q.i, m.conversation_id, m.seq, m.pos, m.id, m.text, m.created_at',
    'SELECT q.i, m.conversation_id, m.seq, m.pos, m.id, m.text, m.created_at, m.deleted, m.edited_at',
  ],
  [
    'p.conversation_id = q.conv AND p.text = q.txt',
    "p.conversation_id = q.conv AND (p.text = q.txt OR p.text = '' OR p.deleted OR p.edited_at IS NOT NULL)",
  ],
  [
    'unnest(pl.members) WITH ORDINALITY',
    'unnest(CASE WHEN pl.vis IS NULL THEN pl.members ELSE ARRAY[pl.vis] END) WITH ORDINALITY',
  ],
  ['pl.members, pv.prev', 'CASE WHEN pl.vis IS NULL THEN pl.members ELSE ARRAY[pl.vis] END, pv.prev'],
  [
    `INSERT INTO messages (conversation_id, seq, pos, id, sender_id, client_id, text, created_at)
          SELECT pl.conv, pl.new_seq, pl.new_pos, pl.mid, pl.sender, pl.client, pl.txt, pl.sent_at FROM placed pl`,
    `INSERT INTO messages (conversation_id, seq, pos, id, sender_id, client_id, text, created_at,
            kind, target, visible_to, reply_to, forwarded, mentions)
          SELECT pl.conv, pl.new_seq, pl.new_pos, pl.mid, pl.sender, pl.client, pl.txt, pl.sent_at,
            coalesce(pl.kind, 'text'), pl.target, pl.vis, pl.reply, coalesce(pl.fwd, false), pl.ments
          FROM placed pl`,
  ],
].reduce((text, [from, to]) => replaced(text, from as string, to as string), APPEND_BATCH_SHARDED);

/**
 * Migration 12: message actions. Each action is a row of messages (kind other than 'text',
 * target = the content message's seq); visible_to, when set, is the only user whose feed has
 * the row. The columns after it and the tables below hold a content message's state with its
 * events folded in, written in the event's transaction on the conversation's database.
 */
const MESSAGE_ACTIONS = `
      ALTER TABLE messages
        ADD COLUMN kind text NOT NULL DEFAULT 'text',
        ADD COLUMN target bigint,
        ADD COLUMN visible_to text COLLATE "C",
        ADD COLUMN reply_to bigint,
        ADD COLUMN forwarded boolean NOT NULL DEFAULT false,
        ADD COLUMN mentions text,
        ADD COLUMN edited_at bigint,
        ADD COLUMN deleted boolean NOT NULL DEFAULT false,
        ADD COLUMN pinned_at bigint;
      CREATE INDEX messages_target ON messages (conversation_id, target) WHERE target IS NOT NULL;
      CREATE INDEX messages_pinned ON messages (conversation_id, pinned_at) WHERE pinned_at IS NOT NULL;
      CREATE TABLE reactions (
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        emoji text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (conversation_id, seq, emoji, user_id)
      );
      -- A user's own marks on messages ('hide': deleted for me; 'save'), kept with the message.
      CREATE TABLE message_marks (
        user_id text COLLATE "C" NOT NULL,
        mark text NOT NULL CHECK (mark IN ('hide', 'save')),
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (user_id, mark, conversation_id, seq)
      );
      CREATE INDEX message_marks_by_time ON message_marks (user_id, mark, created_at);
      CREATE TABLE mentions (
        user_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (user_id, conversation_id, seq)
      );
      CREATE INDEX mentions_by_time ON mentions (user_id, created_at);
      ${APPEND_BATCH_ACTIONS}
`;

/**
 * Migration 14: full-text search. Each content message's tokens (common/search-text.ts, made
 * in JavaScript) as a tsvector with a GIN index, written by the append in its transaction: the
 * batch's JSON carries each message's tsvector literal (`tsv`), read with `::tsvector` (no text
 * search parser or configuration involved, so both stores tokenize alike). Events carry no
 * `tsv`; an edit rewrites its target's tokens and a delete for everyone clears them. A batch
 * from a server of the previous version has no `tsv`: its messages stay out of the index.
 */
const APPEND_BATCH_SEARCH = [
  ['fwd boolean, ments text)', 'fwd boolean, ments text, tsv text)'],
  [
    'kind, target, visible_to, reply_to, forwarded, mentions)',
    'kind, target, visible_to, reply_to, forwarded, mentions, search)',
  ],
  [
    "coalesce(pl.kind, 'text'), pl.target, pl.vis, pl.reply, coalesce(pl.fwd, false), pl.ments",
    "coalesce(pl.kind, 'text'), pl.target, pl.vis, pl.reply, coalesce(pl.fwd, false), pl.ments,\n            pl.tsv::tsvector",
  ],
].reduce((text, [from, to]) => replaced(text, from as string, to as string), APPEND_BATCH_ACTIONS);

const MESSAGE_SEARCH = `
      ALTER TABLE messages ADD COLUMN search tsvector;
      CREATE INDEX messages_search ON messages USING gin (search);
      ${APPEND_BATCH_SEARCH}
`;

/**
 * Migration 16: attachments. A content message's files as a JSON array (`atts` in the batch,
 * made by the server from the uploads it claimed). `uploads` rows live on the database of
 * their uploader (placed by user id); the message they are attached to lives with its
 * conversation, and a download's visibility check reads that database.
 */
const APPEND_BATCH_ATTACHMENTS = [
  ['ments text, tsv text)', 'ments text, tsv text, atts text)'],
  [
    'kind, target, visible_to, reply_to, forwarded, mentions, search)',
    'kind, target, visible_to, reply_to, forwarded, mentions, search, attachments)',
  ],
  ['pl.tsv::tsvector', 'pl.tsv::tsvector, pl.atts'],
].reduce((text, [from, to]) => replaced(text, from as string, to as string), APPEND_BATCH_SEARCH);

const ATTACHMENTS = `
      ALTER TABLE messages ADD COLUMN attachments text;
      CREATE TABLE uploads (
        id text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        size bigint NOT NULL,
        created_at bigint NOT NULL,
        attachment text,
        conversation_id text COLLATE "C",
        client_id text COLLATE "C"
      );
      CREATE INDEX uploads_by_user ON uploads (user_id, conversation_id, client_id);
      CREATE INDEX uploads_unattached ON uploads (created_at) WHERE conversation_id IS NULL;
      ${APPEND_BATCH_ATTACHMENTS}
`;

/**
 * Migration 17: link previews. A content message's preview as JSON (`lpv` in the batch, from
 * the server's previewer cache). A batch from a server of the previous version has no `lpv`.
 */
const LINK_PREVIEWS = `
      ALTER TABLE messages ADD COLUMN preview text;
      ${[
        ['tsv text, atts text)', 'tsv text, atts text, lpv text)'],
        ['mentions, search, attachments)', 'mentions, search, attachments, preview)'],
        ['pl.tsv::tsvector, pl.atts', 'pl.tsv::tsvector, pl.atts, pl.lpv'],
      ].reduce((text, [from, to]) => replaced(text, from as string, to as string), APPEND_BATCH_ATTACHMENTS)}
`;

/** Migration 14's backfill: the content stored before it (not deleted), in slices by key. */
async function indexStoredMessages(c: Queryable): Promise<void> {
  let after: { c: string; s: number } = { c: '', s: 0 };
  for (;;) {
    const { rows } = await c.query<{ conversation_id: string; seq: number; text: string }>(
      `SELECT conversation_id, seq, text FROM messages WHERE (conversation_id, seq) > ($1, $2)
         AND kind = 'text' AND NOT deleted
       ORDER BY conversation_id, seq LIMIT 1000`,
      [after.c, after.s],
    );
    const last = rows[rows.length - 1];
    if (!last) return;
    await c.query(
      `UPDATE messages m SET search = v.tsv::tsvector
       FROM unnest($1::text[], $2::int8[], $3::text[]) AS v(c, seq, tsv)
       WHERE m.conversation_id = v.c AND m.seq = v.seq`,
      [rows.map((r) => r.conversation_id), rows.map((r) => r.seq), rows.map((r) => tsVector(r.text))],
    );
    after = { c: last.conversation_id, s: Number(last.seq) };
  }
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: (o) => `
      CREATE TABLE users (
        id text COLLATE "C" PRIMARY KEY,
        username text COLLATE "C" NOT NULL UNIQUE,
        display_name text NOT NULL,
        password_hash text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE devices (
        id text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        token_hash text COLLATE "C" NOT NULL UNIQUE,
        created_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        revoked_at bigint
      );
      CREATE INDEX devices_user ON devices (user_id);
      CREATE TABLE conversations (
        id text COLLATE "C" PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('direct', 'group')),
        name text NOT NULL,
        direct_key text COLLATE "C" UNIQUE,
        created_at bigint NOT NULL,
        last_activity_at bigint NOT NULL,
        last_seq bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE members (
        conversation_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'member')),
        joined_at bigint NOT NULL,
        read_seq bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, user_id)
      );
      CREATE INDEX members_user ON members (user_id, conversation_id);
      CREATE TABLE messages (
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        pos bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        sender_id text COLLATE "C" NOT NULL,
        client_id text COLLATE "C" NOT NULL,
        text text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (conversation_id, seq)
      ) PARTITION BY HASH (conversation_id);
      ${messagePartitions(o.messagePartitions)}
      CREATE TABLE message_keys (
        sender_id text COLLATE "C" NOT NULL,
        client_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (sender_id, client_id)
      );
      CREATE TABLE feed (
        user_id text COLLATE "C" NOT NULL,
        pos bigint NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (user_id, pos)
      );
      -- Feed positions; only taken under the append lock (see appendMessages).
      CREATE SEQUENCE feed_pos AS bigint;
    `,
  },
  {
    version: 2,
    name: 'presence, receipts, contacts and blocks',
    sql: () => `
      ALTER TABLE users ADD COLUMN last_active_at bigint;
      ALTER TABLE members ADD COLUMN delivered_seq bigint NOT NULL DEFAULT 0;
      -- Direct conversations: true while either member blocks the other (checked on every append).
      ALTER TABLE conversations ADD COLUMN blocked boolean NOT NULL DEFAULT false;
      CREATE TABLE contacts (
        user_id text COLLATE "C" NOT NULL,
        contact_id text COLLATE "C" NOT NULL,
        state text NOT NULL CHECK (state IN ('accepted', 'incoming', 'outgoing')),
        since bigint NOT NULL,
        PRIMARY KEY (user_id, contact_id)
      );
      CREATE TABLE blocks (
        blocker_id text COLLATE "C" NOT NULL,
        blocked_id text COLLATE "C" NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (blocker_id, blocked_id)
      );
      CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);
    `,
  },
  {
    version: 3,
    name: 'push notifications',
    sql: () => `
      ALTER TABLE users ADD COLUMN push_preview boolean NOT NULL DEFAULT true;
      -- My mute of a conversation: no pushes while muted_until > now (NULL: not muted).
      ALTER TABLE members ADD COLUMN muted_until bigint;
      CREATE TABLE push_subscriptions (
        id text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL,
        device_id text COLLATE "C" NOT NULL,
        kind text NOT NULL CHECK (kind IN ('webpush', 'fcm', 'apns')),
        address text COLLATE "C" NOT NULL,
        p256dh text,
        auth text,
        created_at bigint NOT NULL,
        UNIQUE (kind, address)
      );
      CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
      CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id);
      -- The durable push queue: one row per (message, subscription), never two. Claimed with
      -- FOR UPDATE SKIP LOCKED, so chat servers share it without sending anything twice.
      CREATE TABLE push_jobs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        message_id text COLLATE "C" NOT NULL,
        subscription_id text COLLATE "C" NOT NULL,
        payload text NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL,
        created_at bigint NOT NULL,
        UNIQUE (message_id, subscription_id)
      );
      CREATE INDEX push_jobs_due ON push_jobs (next_attempt_at) WHERE state = 'pending';
      CREATE INDEX push_jobs_subscription ON push_jobs (subscription_id);
      CREATE INDEX push_jobs_finished ON push_jobs (created_at) WHERE state <> 'pending';
      CREATE TABLE server_values (
        key text COLLATE "C" PRIMARY KEY,
        value text NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'append in one round trip',
    // The whole append of a batch runs inside the database, so the global append lock is held
    // only while PostgreSQL works: never across client round trips (with six round trips per
    // batch, a busy chat server's event loop kept the lock, and every other server, waiting).
    // Called as one statement (an implicit transaction): the lock is released at its COMMIT.
    // PL/pgSQL gives each statement after the lock a fresh snapshot (READ COMMITTED), so the
    // reads below see every batch committed before this one.
    sql: () => `${appendFunction('CREATE FUNCTION', LOOKUPS_BY_JOIN)}`,
  },
  {
    version: 5,
    name: 'append: index probes whatever the statistics',
    // Migration 4's joins let the planner pick a hash join over a sequential scan of
    // message_keys (and of conversations) while their statistics were those of small
    // tables, so every append read the whole table: on a fresh database taking thousands of
    // messages a second, PostgreSQL's CPU per append grew with the table. The same function
    // with one LATERAL primary-key probe per message and per conversation instead.
    sql: () => `${appendFunction('CREATE OR REPLACE FUNCTION', LOOKUPS_BY_PROBE)}`,
  },
  {
    version: 6,
    name: 'append: the batch in and out as JSON',
    // parley_append's array literals cost the chat servers ~8% of their CPU at the cluster's
    // maximum by profile (building six literals per batch and parsing `members` and `prev`
    // per row in JavaScript); with JSON they used ~5% less CPU at 5,000 msgs/s
    // (docs/performance.md). parley_append stays for chat servers of the previous version
    // during a rolling upgrade.
    sql: () => `${appendFunction('CREATE FUNCTION', LOOKUPS_BY_PROBE, JSON_IO)}`,
  },
  {
    version: 7,
    name: 'former members keep the group',
    // The group stays in a former member's list, read-only up to left_seq, until they delete
    // it (the row goes) or are added again.
    sql: () => `
      CREATE TABLE left_members (
        user_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        left_at bigint NOT NULL,
        left_seq bigint NOT NULL,
        left_by text COLLATE "C",
        name text NOT NULL,
        PRIMARY KEY (user_id, conversation_id)
      );
    `,
  },
  {
    version: 8,
    name: 'privacy settings',
    // PrivacySettings, defaults as in DEFAULT_PRIVACY.
    sql: () => `
      ALTER TABLE users
        ADD COLUMN privacy_last_seen text NOT NULL DEFAULT 'contacts'
          CHECK (privacy_last_seen IN ('everyone', 'contacts', 'nobody')),
        ADD COLUMN privacy_online text NOT NULL DEFAULT 'contacts'
          CHECK (privacy_online IN ('everyone', 'contacts', 'nobody')),
        ADD COLUMN privacy_direct_messages text NOT NULL DEFAULT 'requests'
          CHECK (privacy_direct_messages IN ('everyone', 'requests', 'contacts')),
        ADD COLUMN privacy_group_adds text NOT NULL DEFAULT 'contacts'
          CHECK (privacy_group_adds IN ('everyone', 'contacts'));
    `,
  },
  {
    version: 9,
    name: 'message requests, conversation creators, contact declines',
    // request_seq: non-null on the recipient's membership of a direct conversation a
    // non-contact opened; out of their list while last_seq <= request_seq. created_by: the
    // quota of new conversations per user and hour. contact_declines: the request cool-down.
    sql: () => `
      ALTER TABLE members ADD COLUMN request_seq bigint;
      ALTER TABLE conversations ADD COLUMN created_by text COLLATE "C";
      CREATE INDEX conversations_created_by ON conversations (created_by, created_at)
        WHERE created_by IS NOT NULL;
      CREATE TABLE contact_declines (
        user_id text COLLATE "C" NOT NULL,
        requester_id text COLLATE "C" NOT NULL,
        declined_at bigint NOT NULL,
        PRIMARY KEY (user_id, requester_id)
      );
    `,
  },
  {
    version: 10,
    name: 'feeds read from conversations, appends without the global lock',
    sql: () => FEED_TO_FAN_OUT,
  },
  {
    version: 11,
    name: 'rows placed over several databases',
    sql: () => SHARDED_LAYOUT,
  },
  {
    version: 12,
    name: 'message actions',
    sql: () => MESSAGE_ACTIONS,
  },
  {
    version: 13,
    name: 'push jobs of deleted messages',
    // On every database: a message deleted for everyone, so that a push job queued after the
    // delete (on its user's database) is not queued.
    sql: () => `
      CREATE TABLE push_dropped (
        message_id text COLLATE "C" PRIMARY KEY,
        created_at bigint NOT NULL
      );
`,
  },
  {
    version: 14,
    name: 'full-text search',
    sql: () => MESSAGE_SEARCH,
    after: indexStoredMessages,
  },
  {
    version: 15,
    name: 'mutes that silence mentions too',
    // Cleared with the mute (muted_until back to NULL).
    sql: () => `
      ALTER TABLE members ADD COLUMN mute_mentions boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 16,
    name: 'attachments',
    sql: () => ATTACHMENTS,
  },
  {
    version: 17,
    name: 'link previews',
    sql: () => LINK_PREVIEWS,
  },
];
