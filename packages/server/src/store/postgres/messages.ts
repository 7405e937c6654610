/**
 * PostgreSQL messages: appends, history, feeds and receipt cursors. Messages live on their
 * conversation's database; a user's feed is read from every database that holds one of their
 * conversations, each answering for the position spaces (logical shards) it holds.
 */
import pg from 'pg';
import { ParleyError } from '@parley/protocol';
import type { Message, MessageListPage } from '@parley/protocol';
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
import { toMessage } from '../common/rows.js';
import { planAppends, resolveAppends } from '../common/append-batch.js';
import { tsVector } from '../common/search-text.js';
import { pairKey as idemKey } from '../common/pair-key.js';
import type { MemberDbRow, MessageDbRow } from '../common/rows.js';
import { audienceOf, kindOf, searchTextOf } from '../common/message-rules.js';
import { PgMessageReads, WITH_REPLY, appendChecked, messageJson, shown } from './message-actions.js';
import { mapError } from './postgres-driver.js';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';

/** A message's columns, without its search tokens (which only the search reads). */
export const MESSAGE_COLUMNS = 'conversation_id, seq, pos, id, sender_id, client_id, text, created_at';

export class PgMessages implements MessageStore {
  private readonly reads: PgMessageReads;

  constructor(private readonly shards: PgShards) {
    this.reads = new PgMessageReads(shards);
  }

  messageAt(conversationId: string, seq: number, userId: string): Promise<Message | null> {
    return this.reads.messageAt(conversationId, seq, userId);
  }
  pinned(conversationId: string, userId: string): Promise<Message[]> {
    return this.reads.pinned(conversationId, userId);
  }
  mentionsOf(userId: string, read: ListRead): Promise<MessageListPage> {
    return this.reads.mentionsOf(userId, read);
  }
  savedOf(userId: string, read: ListRead): Promise<MessageListPage> {
    return this.reads.savedOf(userId, read);
  }

  /**
   * One statement per batch (group commit), whatever its size: `parley_append_batch` does the
   * whole append inside PostgreSQL and the statement's implicit transaction commits it. It
   * locks only the batch's conversations and their members' feed heads (see migration 11 for
   * why feeds stay in position order), so batches for different people commit in parallel.
   * Seqs come from `conversations.last_seq` bumped in the same transaction, so a failed batch
   * rolls its seqs back too (gap-free). The caller's promise resolves only after COMMIT.
   */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return Promise.resolve([]);
    return appendBatch(this.shards, batch);
  }

  async history(
    conversationId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const n = opts.limit;
    const db = this.shards.of(conversationId);
    // Folded, as nobody in particular sees them (no one's hidden or saved marks).
    const after = opts.after !== undefined;
    const rows = await db.rows<{ j: Message }>(
      `SELECT ${messageJson('NULL::text')} AS j FROM ${WITH_REPLY}
       WHERE m.conversation_id = $1 AND m.seq ${after ? '>' : '<'} $2 AND m.kind = 'text'
       ORDER BY m.seq ${after ? 'ASC' : 'DESC'} LIMIT $3`,
      [conversationId, after ? opts.after : (opts.before ?? Number.MAX_SAFE_INTEGER), n + 1],
    );
    const page = rows.slice(0, n).map((r) => r.j);
    return { messages: after ? page : page.reverse(), hasMore: rows.length > n };
  }
  async historyJson(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<string | null> {
    const after = opts.after !== undefined;
    const [r] = await this.shards.of(conversationId).rows<{ member: boolean; n: number; json: string }>(
      `SELECT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $4) AS member,
         count(*)::int AS n,
         coalesce(json_agg(p.j ORDER BY p.seq) FILTER (WHERE rn <= $3), '[]')::text AS json
       FROM (SELECT m.seq, ${messageJson('$4')} AS j,
               row_number() OVER (ORDER BY m.seq ${after ? 'ASC' : 'DESC'}) AS rn FROM ${WITH_REPLY}
             WHERE m.conversation_id = $1 AND m.seq ${after ? '>' : '<'} $2 AND ${shown('$4')}
             ORDER BY m.seq ${after ? 'ASC' : 'DESC'} LIMIT $3 + 1) p`,
      [conversationId, after ? opts.after : (opts.before ?? Number.MAX_SAFE_INTEGER), opts.limit, userId],
    );
    if (!r?.member) return null;
    return `{"messages":${r.json},"hasMore":${r.n > opts.limit}}`;
  }

  async readFeed(userId: string, since: Positions, limit: number): Promise<FeedPage> {
    return (await this.readFeeds([{ userId, since, limit }]))[0] as FeedPage;
  }

  /**
   * Each read's page from every database holding a conversation of its user, merged by
   * position. Each database answers its smallest `limit + 1` positions, so the first `limit`
   * of the merge are, for every space, the next positions after `since` with none skipped.
   */
  async readFeeds(reads: readonly FeedRead[]): Promise<FeedPage[]> {
    if (reads.length === 0) return [];
    const perDb = new Map<PgDatabase, number[]>();
    const where = await this.databasesOf(reads.map((r) => r.userId));
    reads.forEach((_, i) => {
      for (const db of where[i] as PgDatabase[]) {
        let list = perDb.get(db);
        if (!list) perDb.set(db, (list = []));
        list.push(i);
      }
    });
    const pages = reads.map(() => [] as MessageDbRow[]);
    await Promise.all(
      [...perDb].map(async ([db, indexes]) => {
        const part = await readOn(
          db,
          indexes.map((i) => reads[i] as FeedRead),
        );
        part.forEach((rows, k) => (pages[indexes[k] as number] as MessageDbRow[]).push(...rows));
      }),
    );
    return pages.map((p, i) => {
      const limit = (reads[i] as FeedRead).limit;
      if (perDb.size > 1) p.sort((a, b) => a.pos - b.pos);
      return { messages: p.slice(0, limit).map(toMessage), hasMore: p.length > limit };
    });
  }

  private databasesOf(userIds: readonly string[]): Promise<PgDatabase[][]> {
    return databasesOf(this.shards, userIds);
  }

  async feedHead(userId: string): Promise<Positions> {
    return (await this.feedHeads([userId]))[0] as Positions;
  }
  /** Each user's feed head in every space where it is above 0. */
  async feedHeads(userIds: readonly string[]): Promise<Positions[]> {
    if (userIds.length === 0) return [];
    const heads = userIds.map(() => new Map<number, number>());
    const where = await this.databasesOf(userIds);
    const perDb = new Map<PgDatabase, Set<string>>();
    where.forEach((dbs, i) => {
      for (const db of dbs) {
        let users = perDb.get(db);
        if (!users) perDb.set(db, (users = new Set()));
        users.add(userIds[i] as string);
      }
    });
    const index = indexesOf(userIds);
    await Promise.all(
      [...perDb].map(async ([db, users]) => {
        const rows = await db.rows<{ user_id: string; shard: number; head: number }>(
          'SELECT user_id, shard, head FROM feed_heads WHERE user_id = ANY($1::text[]) AND head > 0',
          [[...users]],
          'parley_feed_heads_v3',
        );
        for (const r of rows) for (const i of index.get(r.user_id) ?? []) heads[i]?.set(r.shard, r.head);
      }),
    );
    return heads;
  }

  async setReadSeq(conversationId: string, userId: string, seq: number): Promise<number> {
    const [r] = await this.shards.of(conversationId).rows<{ read_seq: number | null }>(
      `WITH moved AS (
         UPDATE members SET read_seq = LEAST($3::int8, c.last_seq)
         FROM conversations c
         WHERE c.id = members.conversation_id
           AND members.conversation_id = $1 AND members.user_id = $2
           AND members.read_seq < $3::int8 AND members.read_seq < c.last_seq
         RETURNING members.read_seq
       )
       SELECT COALESCE(
         (SELECT read_seq FROM moved),
         (SELECT read_seq FROM members WHERE conversation_id = $1 AND user_id = $2)
       ) AS read_seq`,
      [conversationId, userId, seq],
    );
    return r?.read_seq ?? 0;
  }

  async setDeliveredSeqs(
    entries: readonly { conversationId: string; userId: string; seq: number }[],
  ): Promise<CursorRow[]> {
    if (entries.length === 0) return [];
    // One row per (conversation, user), the highest seq asked: an UPDATE ... FROM with two
    // matching rows would apply an arbitrary one.
    const wanted = new Map<string, { c: string; u: string; seq: number }>();
    for (const e of entries) {
      const k = idemKey(e.conversationId, e.userId);
      const w = wanted.get(k);
      if (!w) wanted.set(k, { c: e.conversationId, u: e.userId, seq: e.seq });
      else w.seq = Math.max(w.seq, e.seq);
    }
    const list = [...wanted.values()];
    const moved = new Map<string, MemberDbRow>();
    await Promise.all(
      [...this.shards.group(list, (w) => w.c)].map(async ([db, part]) => {
        const ws = part.map((p) => p.item);
        const rows = await db.rows<MemberDbRow>(
          `UPDATE members mb SET delivered_seq = LEAST(v.seq, c.last_seq)
           FROM unnest($1::text[], $2::text[], $3::int8[]) AS v(c, u, seq)
           JOIN conversations c ON c.id = v.c
           WHERE mb.conversation_id = v.c AND mb.user_id = v.u
             AND mb.delivered_seq < v.seq AND mb.delivered_seq < c.last_seq
           RETURNING mb.conversation_id, mb.user_id, mb.delivered_seq, mb.read_seq`,
          [ws.map((w) => w.c), ws.map((w) => w.u), ws.map((w) => w.seq)],
        );
        for (const r of rows) moved.set(idemKey(r.conversation_id, r.user_id), r);
      }),
    );
    // In the order asked, like the embedded store.
    return list.flatMap((w) => {
      const r = moved.get(idemKey(w.c, w.u));
      if (!r) return [];
      return [
        {
          conversationId: r.conversation_id,
          userId: r.user_id,
          deliveredSeq: Math.max(r.delivered_seq, r.read_seq),
          readSeq: r.read_seq,
        },
      ];
    });
  }
}

/** For each user, the databases that hold their conversations (their feed's parts). */
export async function databasesOf(shards: PgShards, userIds: readonly string[]): Promise<PgDatabase[][]> {
  if (shards.single) return userIds.map(() => [shards.catalog]);
  const found = userIds.map(() => new Set<PgDatabase>());
  const index = indexesOf(userIds);
  await Promise.all(
    [...shards.group([...index.keys()], (u) => u)].map(async ([db, users]) => {
      const rows = await db.rows<{ user_id: string; shard: number }>(
        'SELECT DISTINCT user_id, shard FROM user_conversations WHERE user_id = ANY($1::text[])',
        [users.map((u) => u.item)],
        'parley_feed_shards',
      );
      for (const r of rows)
        for (const i of index.get(r.user_id) ?? []) found[i]?.add(shards.ofShard(r.shard));
    }),
  );
  return found.map((s) => [...s]);
}

/** Where each key stands in `keys` (a key asked twice, as two devices of one user, has two). */
function indexesOf(keys: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const at = out.get(k);
    if (at) at.push(i);
    else out.set(k, [i]);
  });
  return out;
}

/**
 * One message's answer from `parley_append_batch`: `[i, status, seq, pos, id, created_at,
 * members, prev]`, i from 1 in the order sent.
 */
type AppendAnswer = [
  i: number,
  status: 'fresh' | 'duplicate' | 'client_id_conflict' | 'not_found' | 'blocked',
  seq: number | null,
  pos: number | null,
  id: string,
  createdAt: number,
  members: string[] | null,
  prev: number[] | null,
];

/**
 * Tries of a batch that lost a race it cannot see coming: a deadlock with a receipt update
 * (both touch `members` rows), or the same (sender, client id) sent to two conversations at
 * once from two servers (the second insert of the key fails). The statement rolled back as a
 * whole, so running it again is safe, and the retry sees the winner.
 */
const APPEND_TRIES = 5;

/**
 * Append a batch: what needs no database first (`planAppends`: NUL, which PostgreSQL text
 * cannot hold, refused for its message only; resends inside the batch), then one
 * `parley_append_batch` statement per database holding some of the batch's conversations, at
 * once. That function takes its locks and does the idempotency, membership and block checks,
 * seq and position assignment, the feed-head chain and every insert, and its implicit
 * transaction commits. A database that cannot be reached answers `unavailable` for its own
 * messages only: conversations elsewhere keep working.
 */
async function appendBatch(shards: PgShards, batch: readonly NewMessage[]): Promise<AppendResult[]> {
  const plan = planAppends(batch, true);
  const answers: AppendResult[] = [];
  const groups = [...shards.group(plan.messages, (m) => m.conversationId)];
  await Promise.all(
    groups.map(async ([db, part]) => {
      let got: AppendResult[];
      try {
        got = await appendWithRetry(
          db,
          part.map((p) => p.item),
          shards.spaces,
        );
      } catch (err) {
        const mapped = mapError(err);
        if (!(mapped instanceof ParleyError) || mapped.code !== 'unavailable' || groups.length === 1)
          throw mapped;
        got = part.map(() => ({ ok: false, code: 'unavailable' }));
      }
      part.forEach((p, k) => (answers[p.i] = got[k] as AppendResult));
    }),
  );
  return resolveAppends(plan, answers);
}

async function appendWithRetry(
  db: PgDatabase,
  batch: readonly NewMessage[],
  spaces: number,
): Promise<AppendResult[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (batch.every(isPlain)) return await appendOn(db.pool, batch, spaces);
      return await db.transaction((c) => appendChecked(c, batch, (tx, part) => appendOn(tx, part, spaces)));
    } catch (err) {
      const lostRace =
        err instanceof pg.DatabaseError &&
        (err.code === '40P01' ||
          err.code === '40001' ||
          (err.code === '23505' && err.constraint === 'message_keys_pkey'));
      if (!lostRace || attempt >= APPEND_TRIES) throw err;
    }
  }
}

/** A message without action fields: the rules have nothing to check. */
const isPlain = (m: NewMessage) =>
  m.kind === undefined && m.replyTo === undefined && !m.forwarded && m.mentions === undefined;

/** One `parley_append_batch` statement: messages of conversations on this database. */
async function appendOn(db: Queryable, sent: readonly NewMessage[], spaces: number): Promise<AppendResult[]> {
  if (sent.length === 0) return [];
  // Named: each connection parses and plans the call once, not once per batch.
  const { rows } = await db.query<{ r: AppendAnswer[] | null }>({
    name: 'parley_append_batch_v2',
    text: 'SELECT parley_append_batch($1, $2) AS r',
    values: [
      JSON.stringify(
        sent.map((m, k) => ({
          conv: m.conversationId,
          sender: m.senderId,
          client: m.clientId,
          mid: m.id,
          txt: m.text,
          sent_at: m.createdAt,
          i: k + 1,
          ...(isPlain(m)
            ? {}
            : {
                kind: kindOf(m),
                target: m.target ?? null,
                vis: audienceOf(m),
                reply: m.replyTo ?? null,
                fwd: m.forwarded === true,
                ments: m.mentions?.length ? JSON.stringify(m.mentions) : null,
              }),
          // Content's search tokens (migration 14): the append indexes it in its transaction.
          tsv: kindOf(m) === 'text' ? tsVector(searchTextOf(m)) : null,
          // Migration 16: the files, stored with the message in its transaction.
          ...(m.attachments?.length ? { atts: JSON.stringify(m.attachments) } : {}),
          // Migration 17: the link preview, stored with the message in its transaction.
          ...(m.preview ? { lpv: JSON.stringify(m.preview) } : {}),
        })),
      ),
      spaces,
    ],
  });
  const answers: AppendResult[] = [];
  for (const [i, status, seq, pos, id, createdAt, members, prev] of rows[0]?.r ?? []) {
    const m = sent[i - 1] as NewMessage;
    if (status !== 'fresh' && status !== 'duplicate') {
      answers[i - 1] = { ok: false, code: status };
      continue;
    }
    const message: Message = {
      id,
      conversationId: m.conversationId,
      seq: Number(seq),
      pos: Number(pos),
      senderId: m.senderId,
      clientId: m.clientId,
      kind: kindOf(m),
      text: m.text,
      createdAt,
    };
    if (m.target !== undefined && kindOf(m) !== 'text') message.target = m.target;
    if (m.forwarded) message.forwarded = true;
    if (m.mentions?.length) message.mentions = [...m.mentions];
    if (m.attachments?.length) message.attachments = [...m.attachments];
    if (m.preview) message.preview = { ...m.preview };
    answers[i - 1] =
      status === 'duplicate'
        ? { ok: true, message, duplicate: true, recipients: [], prev: [] }
        : { ok: true, message, duplicate: false, recipients: members ?? [], prev: prev ?? [] };
  }
  return answers;
}

/**
 * One database's part of several feed reads, in one statement (one snapshot): per read, the
 * parts of conversations the feed has after `since` in their space (a membership from
 * joined_pos on, a former one up to left_pos), then each part's messages by
 * (conversation_id, pos), one index range in the one partition the conversation hashes to,
 * merged by pos. The work is what the device missed plus a probe per conversation.
 */
async function readOn(db: PgDatabase, reads: readonly FeedRead[]): Promise<MessageDbRow[][]> {
  const sn: number[] = [];
  const ss: number[] = [];
  const sp: number[] = [];
  reads.forEach((r, i) => {
    for (const [space, pos] of r.since) {
      sn.push(i + 1);
      ss.push(space);
      sp.push(pos);
    }
  });
  const rows = await db.rows<MessageDbRow & { n: number }>(
    `WITH s AS (SELECT * FROM unnest($3::int8[], $4::int[], $5::int8[]) AS s(n, shard, since))
     SELECT r.n::int AS n, m.conversation_id, m.seq, m.pos, m.id, m.sender_id, m.client_id, m.text, m.created_at,
       m.kind, m.target, m.reply_to, m.forwarded, m.mentions, m.attachments, m.preview, m.edited_at, m.deleted, m.pinned_at,
       m.r_sender, m.r_text, m.r_deleted
     FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS r(user_id, lim, n)
     CROSS JOIN LATERAL (
       SELECT x.* FROM (
         SELECT mb.conversation_id AS id, greatest(coalesce(sp.since, 0), mb.joined_pos) AS lo,
           NULL::int8 AS hi
         FROM members mb JOIN conversations c ON c.id = mb.conversation_id
         LEFT JOIN s sp ON sp.n = r.n AND sp.shard = c.shard
         WHERE mb.user_id = r.user_id AND c.last_pos > greatest(coalesce(sp.since, 0), mb.joined_pos)
         UNION ALL
         SELECT f.conversation_id, greatest(coalesce(sp.since, 0), f.joined_pos), f.left_pos
         FROM former_members f JOIN conversations c ON c.id = f.conversation_id
         LEFT JOIN s sp ON sp.n = r.n AND sp.shard = c.shard
         WHERE f.user_id = r.user_id AND f.left_pos > greatest(coalesce(sp.since, 0), f.joined_pos)
       ) p
       CROSS JOIN LATERAL (
         SELECT x.*, rt.sender_id AS r_sender, rt.text AS r_text, rt.deleted AS r_deleted FROM messages x
         LEFT JOIN messages rt ON rt.conversation_id = x.conversation_id AND rt.seq = x.reply_to
         WHERE x.conversation_id = p.id AND x.pos > p.lo AND (p.hi IS NULL OR x.pos <= p.hi)
           AND (x.visible_to IS NULL OR x.visible_to = r.user_id)
         ORDER BY x.pos LIMIT r.lim
       ) x
       ORDER BY x.pos LIMIT r.lim
     ) m
     ORDER BY r.n, m.pos`,
    [reads.map((r) => r.userId), reads.map((r) => r.limit + 1), sn, ss, sp],
    'parley_read_feeds_v5',
  );
  const pages = reads.map(() => [] as MessageDbRow[]);
  for (const r of rows) pages[r.n - 1]?.push(r);
  return pages;
}
