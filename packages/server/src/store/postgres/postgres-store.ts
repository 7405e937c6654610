import pg from 'pg';
import type { CustomTypesConfig, PoolClient, QueryResultRow } from 'pg';
import { DEFAULT_PRIVACY, ParleyError } from '@parley/protocol';
import type { Message, PrivacySettings } from '@parley/protocol';
import type {
  AccountStore,
  AppendResult,
  ContactRow,
  ConversationRow,
  ConversationStore,
  ConversationSummaryRow,
  CursorRow,
  DeviceRow,
  DeviceWithUser,
  FeedPage,
  FeedRead,
  Positions,
  LeftRow,
  MemberRow,
  MessageStore,
  NewMessage,
  NewPushJob,
  PushJobRow,
  PushQueueStore,
  PushSubscriptionRow,
  PushTargetRow,
  ServerValueStore,
  SocialStore,
  Store,
  StoreCapabilities,
  UserRow,
} from '../store.js';
import { inSpaceZero } from '../common/feed-cursor.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import {
  PRIVACY_COLUMNS,
  deviceOfJoin,
  toConversation,
  toDevice,
  toLeft,
  toMember,
  toMessage,
  toPrivacy,
  toPushSubscription,
  toSummary,
  toUser,
  wellFormed,
} from '../rows.js';
import type {
  ConversationDbRow,
  DeviceDbRow,
  DeviceJoinRow,
  LeftDbRow,
  MemberDbRow,
  MessageDbRow,
  PrivacyDbRow,
  PushSubscriptionDbRow,
  SummaryDbRow,
  UserDbRow,
} from '../rows.js';

export interface PostgresStoreOptions {
  /** Connection URL, e.g. `postgres://parley:secret@db:5432/parley`. */
  url: string;
  /** Most pooled connections of this process. Default 10. */
  max?: number;
  /**
   * Hash partitions of the `messages` table. Default 16. Only read when the schema is first
   * created; changing it later needs a repartitioning migration.
   */
  messagePartitions?: number;
  /** Wait this long for a connection (new or from a busy pool) before failing with `unavailable`, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Pooled connections idle this long are closed, ms. Default 60000. */
  idleTimeoutMs?: number;
}

/**
 * Advisory lock keys (`pg_advisory_xact_lock(bigint)`); arbitrary constants that only have
 * to differ from each other and from locks other software takes on the same database.
 */
const MIGRATE_LOCK = 0x7061726c01; // 'parl' 01
/** First key of the two-key form `pg_advisory_xact_lock(int, int)` taken per user pair (blocks). */
const PAIR_LOCK = 0x70610001;
/** First key of the two-key lock taken per push endpoint while it is registered. */
const PUSH_LOCK = 0x70610002;

/** int8 (timestamps, seq, pos, counts) as JS numbers: every value stays below 2^53. */
const INT8_OID = 20;
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

// ---- errors ----

/** Socket errors: the database cannot be reached. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/** node-postgres reports a lost or unobtainable connection with these messages (no code). */
const CONNECTION_LOST =
  /^(Connection terminated|Connection ended|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout)/;

/** SQLSTATEs a retry may fix: connection exceptions, shutdown, overload, lost races. */
function retryableState(code: string): boolean {
  return (
    code.startsWith('08') || // connection_exception
    code.startsWith('57P') || // admin/crash shutdown, cannot_connect_now
    code === '53300' || // too_many_connections
    code === '40001' || // serialization_failure
    code === '40P01' || // deadlock_detected
    code === '55P03' // lock_not_available
  );
}

/**
 * Map a driver error to the store's contract: `ParleyError('unavailable')` when the engine
 * cannot be reached or the connection drops (callers then reply with a retryable error,
 * never a false ack; when a connection drops during COMMIT the outcome is unknown, and the
 * client's resend is made safe by idempotency on (senderId, clientId)).
 */
function mapError(err: unknown): unknown {
  if (err instanceof ParleyError) return err;
  if (err instanceof pg.DatabaseError) {
    if (err.code && retryableState(err.code)) return new ParleyError('unavailable');
    // NUL or unencodable characters (the embedded store takes them; names are validated first).
    if (err.code === '22021' || err.code === '22P05') return new ParleyError('invalid_field');
    return err;
  }
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && CONNECTION_ERRORS.has(e.code)) return new ParleyError('unavailable');
  if (typeof e?.message === 'string' && CONNECTION_LOST.test(e.message))
    return new ParleyError('unavailable');
  return err;
}

/** Anything with a `query` method: the pool or a client inside a transaction. */
interface Queryable {
  query<R extends QueryResultRow>(
    text: string | { name?: string; text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

const SUMMARY_SELECT = `
  SELECT c.id, c.kind, c.name, c.created_at, c.last_activity_at, c.last_seq,
         m.role, m.read_seq, m.muted_until, m.request_seq,
         (SELECT count(*) FROM members x WHERE x.conversation_id = c.id) AS member_count,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.user_id, m.user_id) END AS peer_id,
         CASE WHEN c.kind = 'direct' THEN
           GREATEST(COALESCE(p.delivered_seq, m.delivered_seq), COALESCE(p.read_seq, m.read_seq))
         END AS peer_delivered_seq,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.read_seq, m.read_seq) END AS peer_read_seq,
         lm.pos AS m_pos, lm.id AS m_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
         lm.client_id AS m_client_id, lm.text AS m_text, lm.created_at AS m_created_at
  FROM members m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN members p ON c.kind = 'direct' AND p.conversation_id = c.id AND p.user_id <> m.user_id
  LEFT JOIN LATERAL (
    SELECT x.* FROM messages x WHERE x.conversation_id = c.id AND x.seq = c.last_seq LIMIT 1
  ) lm ON true`;

/** A member's conversation is in their list: not a request, or a request with a message not deleted. */
const REQUEST_SHOWN = '(m.request_seq IS NULL OR c.last_seq > m.request_seq)';

const idemKey = (a: string, b: string) => `${a}\u0000${b}`;

/** The unique key of the direct conversation of two users, whoever asks. */
const directKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

/**
 * The cluster-mode store: PostgreSQL through a connection pool, safe for many server
 * processes writing at once (`multiWriter`). Open with `PostgresStore.open()`, which applies
 * pending migrations first.
 *
 * The driver is node-postgres (`pg`): postgres.js 3.4.9 throws an uncatchable TypeError from
 * a timer when a connection drops with a write pending (porsager/postgres#1154, #1208),
 * which would take the whole chat server down exactly when the store should answer
 * `unavailable`.
 */
export class PostgresStore
  implements
    Store,
    AccountStore,
    ConversationStore,
    MessageStore,
    SocialStore,
    PushQueueStore,
    ServerValueStore
{
  readonly capabilities: StoreCapabilities = {
    multiWriter: true,
    orderedAppends: false,
    positionSpaces: 1,
  };
  // Each aggregate is this object, until the adapter is split by aggregate.
  readonly accounts: AccountStore = this;
  readonly conversations: ConversationStore = this;
  readonly messages: MessageStore = this;
  readonly social: SocialStore = this;
  readonly push: PushQueueStore = this;
  readonly values: ServerValueStore = this;

  private constructor(private readonly pool: pg.Pool) {}

  /** Connect and migrate. Several processes may call this at once (migrations take a lock). */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: opts.idleTimeoutMs ?? 60_000,
      application_name: 'parley',
      // No JIT compilation: every statement here is short. A batch's estimated cost (rows
      // of an unnest × per-row probes) passes jit_above_cost easily, and compiling then took
      // ~300 ms per statement for work of a few milliseconds (a reconnect storm's presence
      // audiences: 0.44 s instead of 0.08 s for 3,000 users).
      options: '-c jit=off',
      types: TYPES,
    });
    // A connection that dies (idle in the pool or checked out) emits 'error'; unhandled, that
    // would crash the process. The query in flight, if any, rejects and is mapped to
    // `unavailable`; the pool replaces the connection.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const store = new PostgresStore(pool);
    try {
      await store.transaction(async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`);
        await migrate(c, opts.messagePartitions ?? 16);
      });
    } catch (err) {
      await pool.end().catch(() => {});
      throw mapError(err);
    }
    return store;
  }

  /**
   * Rows of one statement outside a transaction; driver errors mapped (see mapError). `name`
   * makes it a prepared statement, parsed and planned once per connection: for the hot ones
   * of the connect and catch-up paths, whose planning cost as much as their execution. Only
   * for statements that list their result columns: a `*` would fail with "cached plan must
   * not change result type" once a migration by a newer process adds a column.
   */
  private async rows<R extends QueryResultRow>(
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<R[]> {
    try {
      return (await this.pool.query<R>(name === undefined ? { text, values } : { name, text, values })).rows;
    } catch (err) {
      throw mapError(err);
    }
  }

  /** Run `fn` in a transaction on one pooled connection; the promise settles after COMMIT. */
  private async transaction<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapError(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: drop it rather than return it to the pool
      }
      throw mapError(err);
    } finally {
      client.release(broken);
    }
  }

  // ---- users and devices ----

  async createUser(u: UserRow): Promise<void> {
    try {
      // With the user, their feed head: the row appends lock to keep the feed in order.
      await this.rows(
        `WITH u AS (
           INSERT INTO users (id, username, display_name, password_hash, created_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id
         )
         INSERT INTO feed_heads (user_id) SELECT id FROM u`,
        [u.id, u.username, u.displayName, u.passwordHash, u.createdAt],
      );
    } catch (err) {
      if (err instanceof pg.DatabaseError && err.code === '23505' && err.constraint === 'users_username_key')
        throw new ParleyError('username_taken');
      throw err;
    }
  }
  async getUserById(id: string): Promise<UserRow | null> {
    const [r] = await this.rows<UserDbRow>('SELECT * FROM users WHERE id = $1', [id]);
    return r ? toUser(r) : null;
  }
  async getUserByUsername(username: string): Promise<UserRow | null> {
    const [r] = await this.rows<UserDbRow>('SELECT * FROM users WHERE username = $1', [username]);
    return r ? toUser(r) : null;
  }
  async getUsersByIds(ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows<UserDbRow>('SELECT * FROM users WHERE id = ANY($1::text[])', [ids]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Same order as asked, like the embedded store.
    return ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [toUser(r)] : [];
    });
  }
  async setDisplayName(userId: string, displayName: string): Promise<void> {
    await this.rows('UPDATE users SET display_name = $1 WHERE id = $2', [displayName, userId]);
  }
  async getPrivacy(userId: string): Promise<PrivacySettings> {
    const [r] = await this.rows<PrivacyDbRow>(`SELECT ${PRIVACY_COLUMNS} FROM users WHERE id = $1`, [userId]);
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }
  async getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]> {
    if (userIds.length === 0) return [];
    const rows = await this.rows<PrivacyDbRow & { id: string }>(
      `SELECT id, ${PRIVACY_COLUMNS} FROM users WHERE id = ANY($1::text[])`,
      [[...new Set(userIds)]],
    );
    const byId = new Map(rows.map((r) => [r.id, toPrivacy(r)]));
    return userIds.map((id) => byId.get(id) ?? { ...DEFAULT_PRIVACY });
  }
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    // A null parameter keeps that setting.
    const [r] = await this.rows<PrivacyDbRow>(
      `UPDATE users SET privacy_last_seen = COALESCE($2, privacy_last_seen),
         privacy_online = COALESCE($3, privacy_online),
         privacy_direct_messages = COALESCE($4, privacy_direct_messages),
         privacy_group_adds = COALESCE($5, privacy_group_adds)
       WHERE id = $1 RETURNING ${PRIVACY_COLUMNS}`,
      [
        userId,
        patch.lastSeen ?? null,
        patch.online ?? null,
        patch.directMessages ?? null,
        patch.groupAdds ?? null,
      ],
    );
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }
  async createDevice(d: DeviceRow, tokenHash: string): Promise<void> {
    await this.rows(
      `INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [d.id, d.userId, d.name, tokenHash, d.createdAt, d.lastSeenAt],
    );
  }
  async getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]> {
    if (tokenHashes.length === 0) return [];
    // One unique-index probe per hash (LATERAL … LIMIT 1): a join could be planned as a
    // sequential scan of every device when the batch is large.
    const rows = await this.rows<UserDbRow & DeviceJoinRow & { n: number }>(
      `SELECT t.n::int AS n, d.id AS d_id, d.user_id, d.name AS d_name, d.created_at AS d_created_at,
              d.last_seen_at, u.id, u.username, u.display_name, u.password_hash, u.created_at, u.last_active_at
       FROM unnest($1::text[]) WITH ORDINALITY AS t(hash, n)
       CROSS JOIN LATERAL (
         SELECT d.* FROM devices d WHERE d.token_hash = t.hash AND d.revoked_at IS NULL LIMIT 1
       ) d
       CROSS JOIN LATERAL (SELECT u.* FROM users u WHERE u.id = d.user_id LIMIT 1) u`,
      [tokenHashes],
      'parley_devices_by_token',
    );
    const out: (DeviceWithUser | null)[] = tokenHashes.map(() => null);
    for (const r of rows) out[r.n - 1] = { user: toUser(r), device: deviceOfJoin(r) };
    return out;
  }
  async listDevices(userId: string): Promise<DeviceRow[]> {
    const rows = await this.rows<DeviceDbRow>(
      'SELECT * FROM devices WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id',
      [userId],
    );
    return rows.map(toDevice);
  }
  revokeDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.transaction(async (c) => {
      const { rows } = await c.query(
        `UPDATE devices SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING id`,
        [Date.now(), deviceId, userId],
      );
      if (rows.length === 0) return false;
      await c.query(
        `WITH subs AS (DELETE FROM push_subscriptions WHERE device_id = $1 RETURNING id)
         DELETE FROM push_jobs WHERE subscription_id IN (SELECT id FROM subs)`,
        [deviceId],
      );
      return true;
    });
  }
  async touchDevices(ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return;
    await this.rows('UPDATE devices SET last_seen_at = $1 WHERE id = ANY($2::text[])', [at, ids]);
  }

  // ---- conversations ----

  getOrCreateDirect(
    id: string,
    userA: string,
    userB: string,
    now: number,
    request = false,
  ): Promise<ConversationRow> {
    const key = directKey(userA, userB);
    return this.transaction(async (c) => {
      // Two servers creating the same pair at once: the loser's insert waits for the
      // winner's commit, does nothing, and the SELECT below (a new snapshot under
      // READ COMMITTED) sees the winner's row.
      const created = await c.query(
        `INSERT INTO conversations
           (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by, blocked)
         VALUES ($1, 'direct', '', $2, $3, $3, 0, $4,
           -- A block from before the conversation existed refuses its appends too.
           EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $4 AND blocked_id = $5)
                                          OR (blocker_id = $5 AND blocked_id = $4)))
         ON CONFLICT (direct_key) DO NOTHING`,
        [id, key, now, userA, userB],
      );
      if (created.rowCount) {
        await c.query(
          `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, request_seq)
           SELECT $1, u, 'member', $2, 0, CASE WHEN u = $4 AND $5 THEN 0 END FROM unnest($3::text[]) AS u`,
          [id, now, userA === userB ? [userA] : [userA, userB], userB, request && userA !== userB],
        );
      }
      const { rows } = await c.query<ConversationDbRow>('SELECT * FROM conversations WHERE direct_key = $1', [
        key,
      ]);
      if (!rows[0]) throw new Error('direct conversation vanished');
      return toConversation(rows[0]);
    });
  }
  createGroup(
    id: string,
    name: string,
    creatorId: string,
    memberIds: readonly string[],
    now: number,
  ): Promise<ConversationRow> {
    const others = [...new Set(memberIds)].filter((u) => u !== creatorId);
    return this.transaction(async (c) => {
      const { rows } = await c.query<ConversationDbRow>(
        `INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by)
         VALUES ($1, 'group', $2, NULL, $3, $3, 0, $4) RETURNING *`,
        [id, name, now, creatorId],
      );
      await c.query(
        `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq)
         SELECT $1, v.u, v.role, $2, 0 FROM unnest($3::text[], $4::text[]) AS v(u, role)`,
        [id, now, [creatorId, ...others], ['admin', ...others.map(() => 'member')]],
      );
      if (!rows[0]) throw new Error('insert returned no row');
      return toConversation(rows[0]);
    });
  }
  async findDirect(userA: string, userB: string): Promise<ConversationRow | null> {
    const [r] = await this.rows<ConversationDbRow>('SELECT * FROM conversations WHERE direct_key = $1', [
      directKey(userA, userB),
    ]);
    return r ? toConversation(r) : null;
  }
  async createdSince(userId: string, since: number, limit: number): Promise<number[]> {
    const rows = await this.rows<{ created_at: number }>(
      `SELECT created_at FROM conversations WHERE created_by = $1 AND created_at >= $2
       ORDER BY created_at LIMIT $3`,
      [userId, since, limit],
    );
    return rows.map((r) => Number(r.created_at));
  }
  async acceptRequest(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.rows(
      `UPDATE members SET request_seq = NULL
       WHERE conversation_id = $1 AND user_id = $2 AND request_seq IS NOT NULL RETURNING user_id`,
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async dismissRequest(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.rows(
      `UPDATE members m SET request_seq = c.last_seq FROM conversations c
       WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2
         AND m.request_seq IS NOT NULL RETURNING m.user_id`,
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async getConversation(id: string): Promise<ConversationRow | null> {
    const [r] = await this.rows<ConversationDbRow>('SELECT * FROM conversations WHERE id = $1', [id]);
    return r ? toConversation(r) : null;
  }
  async renameGroup(id: string, name: string): Promise<void> {
    await this.rows(`UPDATE conversations SET name = $1 WHERE id = $2 AND kind = 'group'`, [name, id]);
  }
  async getMember(conversationId: string, userId: string): Promise<MemberRow | null> {
    const [r] = await this.rows<MemberDbRow>(
      'SELECT * FROM members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    return r ? toMember(r) : null;
  }
  async listMembers(conversationId: string): Promise<MemberRow[]> {
    const rows = await this.rows<MemberDbRow>(
      'SELECT * FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id',
      [conversationId],
    );
    return rows.map(toMember);
  }
  addMembers(
    conversationId: string,
    userIds: readonly string[],
    maxMembers: number,
    now: number,
  ): Promise<void> {
    return this.transaction(async (c) => {
      // Lock the conversation row so concurrent additions to one group (from any server)
      // count members one after another; otherwise two could each pass the limit check.
      // The lock also keeps appends out meanwhile, so a new member's feed of the
      // conversation starts exactly after its newest message.
      const { rows } = await c.query<{ last_seq: number; last_pos: number }>(
        'SELECT last_seq, last_pos FROM conversations WHERE id = $1 FOR UPDATE',
        [conversationId],
      );
      const conv = rows[0];
      if (!conv) return;
      const added = await c.query<{ n: number }>(
        `WITH ins AS (
           INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, joined_pos)
           SELECT $1, u, 'member', $2, $3, $5 FROM unnest($4::text[]) AS u
           ON CONFLICT DO NOTHING RETURNING 1
         ), back AS (
           DELETE FROM left_members WHERE conversation_id = $1 AND user_id = ANY($4::text[])
         )
         SELECT (SELECT count(*) FROM members WHERE conversation_id = $1) + (SELECT count(*) FROM ins) AS n`,
        [conversationId, now, conv.last_seq, userIds, conv.last_pos],
      );
      // Throwing rolls the transaction back: nobody is added.
      if ((added.rows[0]?.n ?? 0) > maxMembers) throw new ParleyError('group_full');
    });
  }
  removeMember(
    conversationId: string,
    userId: string,
    leave: { by?: string | null; at?: number } = {},
  ): Promise<void> {
    return this.transaction(async (c) => {
      // Appends wait meanwhile: what the member's feed had of the conversation ends at its
      // newest message now, and stays in their feed (`former_members`).
      await c.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      // The former membership (left_members) is kept only for a removal that happened (a
      // direct conversation has no leaving).
      await c.query(
        `WITH gone AS (
           DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 RETURNING user_id, joined_pos
         ), part AS (
           INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos)
           SELECT gone.user_id, c.id, gone.joined_pos, c.last_pos
           FROM gone JOIN conversations c ON c.id = $1 WHERE c.last_pos > gone.joined_pos
           ON CONFLICT DO NOTHING
         )
         INSERT INTO left_members (user_id, conversation_id, left_at, left_seq, left_by, name)
         SELECT gone.user_id, c.id, $3, c.last_seq, $4, c.name
         FROM gone JOIN conversations c ON c.id = $1 AND c.kind = 'group'
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET
           left_at = excluded.left_at, left_seq = excluded.left_seq, left_by = excluded.left_by,
           name = excluded.name`,
        [conversationId, userId, leave.at ?? Date.now(), leave.by ?? null],
      );
    });
  }
  async getLeft(conversationId: string, userId: string): Promise<LeftRow | null> {
    const [r] = await this.rows<LeftDbRow>(
      'SELECT * FROM left_members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    return r ? toLeft(r) : null;
  }
  async listLeft(userId: string): Promise<LeftRow[]> {
    const rows = await this.rows<LeftDbRow>(
      'SELECT * FROM left_members WHERE user_id = $1 ORDER BY left_at DESC, conversation_id',
      [userId],
    );
    return rows.map(toLeft);
  }
  async deleteLeft(conversationId: string, userId: string): Promise<boolean> {
    const rows = await this.rows(
      'DELETE FROM left_members WHERE conversation_id = $1 AND user_id = $2 RETURNING 1',
      [conversationId, userId],
    );
    return rows.length > 0;
  }
  async relatedUsers(userId: string): Promise<string[]> {
    const rows = await this.rows<{ id: string }>(
      `SELECT $1::text COLLATE "C" AS id UNION
       SELECT b.user_id FROM members a JOIN members b ON b.conversation_id = a.conversation_id
       WHERE a.user_id = $1
       UNION SELECT contact_id FROM contacts WHERE user_id = $1
       ORDER BY 1`,
      [userId],
    );
    return rows.map((r) => r.id);
  }
  async setRole(conversationId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    await this.rows('UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3', [
      role,
      conversationId,
      userId,
    ]);
  }
  async listConversations(userId: string, limit: number): Promise<ConversationSummaryRow[]> {
    const rows = await this.rows<SummaryDbRow>(
      `${SUMMARY_SELECT} WHERE m.user_id = $1 AND ${REQUEST_SHOWN}
       ORDER BY c.last_activity_at DESC, c.id LIMIT $2`,
      [userId, limit],
    );
    return rows.map(toSummary);
  }
  async getConversationSummary(
    conversationId: string,
    userId: string,
  ): Promise<ConversationSummaryRow | null> {
    const [r] = await this.rows<SummaryDbRow>(
      `${SUMMARY_SELECT} WHERE m.user_id = $1 AND c.id = $2 AND ${REQUEST_SHOWN}`,
      [userId, conversationId],
    );
    return r ? toSummary(r) : null;
  }

  // ---- messages ----

  /**
   * One statement per batch (group commit), whatever its size: `parley_append_batch` does the
   * whole append inside PostgreSQL and the statement's implicit transaction commits it. It
   * locks only the batch's conversations and their members' feed heads (see migration 10 for
   * why feeds stay in position order), so batches for different people commit in parallel.
   * Seqs come from `conversations.last_seq` bumped in the same transaction, so a failed batch
   * rolls its seqs back too (gap-free). The caller's promise resolves only after COMMIT.
   */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return Promise.resolve([]);
    return appendWithRetry(this.pool, batch).catch((err: unknown) => {
      throw mapError(err);
    });
  }

  async history(
    conversationId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const n = opts.limit;
    if (opts.after !== undefined) {
      const rows = await this.rows<MessageDbRow>(
        'SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3',
        [conversationId, opts.after, n + 1],
      );
      return { messages: rows.slice(0, n).map(toMessage), hasMore: rows.length > n };
    }
    const rows = await this.rows<MessageDbRow>(
      'SELECT * FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
      [conversationId, opts.before ?? Number.MAX_SAFE_INTEGER, n + 1],
    );
    return { messages: rows.slice(0, n).reverse().map(toMessage), hasMore: rows.length > n };
  }
  async historyJson(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<string | null> {
    const after = opts.after !== undefined;
    const [r] = await this.rows<{ member: boolean; n: number; json: string }>(
      `SELECT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $4) AS member,
         count(*)::int AS n,
         coalesce(json_agg(json_build_object(
           'id', id, 'conversationId', conversation_id, 'seq', seq, 'pos', pos, 'senderId', sender_id,
           'clientId', client_id, 'text', text, 'createdAt', created_at) ORDER BY seq) FILTER (WHERE rn <= $3),
           '[]')::text AS json
       FROM (SELECT *, row_number() OVER (ORDER BY seq ${after ? 'ASC' : 'DESC'}) AS rn FROM messages
             WHERE conversation_id = $1 AND seq ${after ? '>' : '<'} $2
             ORDER BY seq ${after ? 'ASC' : 'DESC'} LIMIT $3 + 1) p`,
      [conversationId, after ? opts.after : (opts.before ?? Number.MAX_SAFE_INTEGER), opts.limit, userId],
    );
    if (!r?.member) return null;
    return `{"messages":${r.json},"hasMore":${r.n > opts.limit}}`;
  }

  async readFeed(userId: string, since: Positions, limit: number): Promise<FeedPage> {
    return (await this.readFeeds([{ userId, since, limit }]))[0] as FeedPage;
  }
  async readFeeds(reads: readonly FeedRead[]): Promise<FeedPage[]> {
    if (reads.length === 0) return [];
    // Fan-out on read: per read, the parts of conversations the feed has after `since` (a
    // membership from joined_pos on, a former one up to left_pos), then each part's messages
    // by (conversation_id, pos), one index range in the one partition the conversation
    // hashes to, merged by pos. The work is what the device missed plus a probe per
    // conversation of the user. One statement is one snapshot for every page.
    const rows = await this.rows<MessageDbRow & { n: number }>(
      `SELECT r.n::int AS n, m.conversation_id, m.seq, m.pos, m.id, m.sender_id, m.client_id, m.text, m.created_at
       FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY AS r(user_id, since, lim, n)
       CROSS JOIN LATERAL (
         SELECT x.* FROM (
           SELECT mb.conversation_id AS id, greatest(r.since, mb.joined_pos) AS lo, NULL::int8 AS hi
           FROM members mb JOIN conversations c ON c.id = mb.conversation_id
           WHERE mb.user_id = r.user_id AND c.last_pos > greatest(r.since, mb.joined_pos)
           UNION ALL
           SELECT f.conversation_id, greatest(r.since, f.joined_pos), f.left_pos
           FROM former_members f
           WHERE f.user_id = r.user_id AND f.left_pos > greatest(r.since, f.joined_pos)
         ) p
         CROSS JOIN LATERAL (
           SELECT x.* FROM messages x
           WHERE x.conversation_id = p.id AND x.pos > p.lo AND (p.hi IS NULL OR x.pos <= p.hi)
           ORDER BY x.pos LIMIT r.lim
         ) x
         ORDER BY x.pos LIMIT r.lim
       ) m
       ORDER BY r.n, m.pos`,
      [reads.map((r) => r.userId), reads.map((r) => r.since.get(0) ?? 0), reads.map((r) => r.limit + 1)],
      'parley_read_feeds_v2',
    );
    const pages = reads.map(() => [] as MessageDbRow[]);
    for (const r of rows) pages[r.n - 1]?.push(r);
    return pages.map((p, i) => {
      const limit = (reads[i] as FeedRead).limit;
      return { messages: p.slice(0, limit).map(toMessage), hasMore: p.length > limit };
    });
  }
  async feedHead(userId: string): Promise<Positions> {
    const [r] = await this.rows<{ head: number | null }>(
      'SELECT head FROM feed_heads WHERE user_id = $1',
      [userId],
      'parley_feed_head_v2',
    );
    return inSpaceZero(r?.head ?? 0);
  }
  async feedHeads(userIds: readonly string[]): Promise<Positions[]> {
    if (userIds.length === 0) return [];
    const rows = await this.rows<{ head: number | null }>(
      `SELECT (SELECT h.head FROM feed_heads h WHERE h.user_id = u.id) AS head
       FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n`,
      [userIds],
      'parley_feed_heads_v2',
    );
    return rows.map((r) => inSpaceZero(r.head ?? 0));
  }
  async setReadSeq(conversationId: string, userId: string, seq: number): Promise<number> {
    const [r] = await this.rows<{ read_seq: number | null }>(
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
    const rows = await this.rows<MemberDbRow>(
      `UPDATE members mb SET delivered_seq = LEAST(v.seq, c.last_seq)
       FROM unnest($1::text[], $2::text[], $3::int8[]) AS v(c, u, seq)
       JOIN conversations c ON c.id = v.c
       WHERE mb.conversation_id = v.c AND mb.user_id = v.u
         AND mb.delivered_seq < v.seq AND mb.delivered_seq < c.last_seq
       RETURNING mb.conversation_id, mb.user_id, mb.delivered_seq, mb.read_seq`,
      [list.map((w) => w.c), list.map((w) => w.u), list.map((w) => w.seq)],
    );
    const moved = new Map(rows.map((r) => [idemKey(r.conversation_id, r.user_id), r]));
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

  // ---- presence, contacts and blocks ----

  async setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const latest = new Map<string, number>();
    for (const e of entries) latest.set(e.userId, Math.max(e.at, latest.get(e.userId) ?? 0));
    await this.rows(
      `UPDATE users u SET last_active_at = GREATEST(COALESCE(u.last_active_at, 0), v.at)
       FROM unnest($1::text[], $2::int8[]) AS v(id, at)
       WHERE u.id = v.id`,
      [[...latest.keys()], [...latest.values()]],
    );
  }
  async presenceAudiences(userIds: readonly string[]): Promise<string[][]> {
    if (userIds.length === 0) return [];
    // Per user, index probes only: the conversation's kind by key (LATERAL … LIMIT 1) and the
    // partner by key (LATERAL, fenced by OFFSET 0 so it is not flattened into a join). As
    // joins, the generic plan hash-joined a sequential scan of every conversation or member
    // once per user of the batch (11.5 s instead of 0.18 s for 3,000 users of 10,000 pairs).
    const rows = await this.rows<{ n: number; id: string }>(
      `SELECT u.n::int AS n, a.id
       FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)
       CROSS JOIN LATERAL (
         SELECT k.contact_id AS id FROM contacts k WHERE k.user_id = u.id AND k.state = 'accepted'
         UNION
         SELECT p.user_id FROM members m
         CROSS JOIN LATERAL (
           SELECT 1 FROM conversations c WHERE c.id = m.conversation_id AND c.kind = 'direct' LIMIT 1
         ) c
         CROSS JOIN LATERAL (
           SELECT p.user_id FROM members p
           WHERE p.conversation_id = m.conversation_id AND p.user_id <> m.user_id AND p.request_seq IS NULL
           OFFSET 0
         ) p
         WHERE m.user_id = u.id AND m.request_seq IS NULL
       ) a
       WHERE a.id <> u.id AND NOT EXISTS (
         SELECT 1 FROM blocks b
         WHERE (b.blocker_id = u.id AND b.blocked_id = a.id) OR (b.blocker_id = a.id AND b.blocked_id = u.id)
       )
       ORDER BY u.n, a.id`,
      [userIds],
      'parley_presence_audiences',
    );
    const out: string[][] = userIds.map(() => []);
    for (const r of rows) out[r.n - 1]?.push(r.id);
    return out;
  }
  async acceptedContacts(userIds: readonly string[]): Promise<string[][]> {
    if (userIds.length === 0) return [];
    const rows = await this.rows<{ n: number; id: string }>(
      `SELECT u.n::int AS n, k.contact_id AS id
       FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)
       JOIN contacts k ON k.user_id = u.id AND k.state = 'accepted'
       ORDER BY u.n, k.contact_id`,
      [userIds],
    );
    const out: string[][] = userIds.map(() => []);
    for (const r of rows) out[r.n - 1]?.push(r.id);
    return out;
  }
  async visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.rows<{ id: string }>(
      `SELECT q.id FROM unnest($2::text[]) WITH ORDINALITY AS q(id, ord)
       WHERE q.id = $1 OR (
         NOT EXISTS (
           SELECT 1 FROM blocks b
           WHERE (b.blocker_id = $1 AND b.blocked_id = q.id) OR (b.blocker_id = q.id AND b.blocked_id = $1)
         )
         AND (
           EXISTS (SELECT 1 FROM contacts k WHERE k.user_id = $1 AND k.contact_id = q.id AND k.state = 'accepted')
           OR EXISTS (
             SELECT 1 FROM members a JOIN members b ON b.conversation_id = a.conversation_id
             WHERE a.user_id = $1 AND b.user_id = q.id AND a.request_seq IS NULL AND b.request_seq IS NULL
           )
         )
       )
       ORDER BY q.ord`,
      [viewerId, userIds],
    );
    return rows.map((r) => r.id);
  }
  async listContacts(userId: string): Promise<ContactRow[]> {
    const rows = await this.rows<{ contact_id: string; state: ContactRow['state']; since: number }>(
      'SELECT contact_id, state, since FROM contacts WHERE user_id = $1 ORDER BY since, contact_id',
      [userId],
    );
    return rows.map((r) => ({ userId: r.contact_id, state: r.state, since: r.since }));
  }
  async getContactState(
    userId: string,
    otherId: string,
  ): Promise<'accepted' | 'incoming' | 'outgoing' | 'none'> {
    const [r] = await this.rows<{ state: ContactRow['state'] }>(
      'SELECT state FROM contacts WHERE user_id = $1 AND contact_id = $2',
      [userId, otherId],
    );
    return r?.state ?? 'none';
  }
  setContactPair(
    a: string,
    stateA: ContactRow['state'] | 'none',
    b: string,
    stateB: ContactRow['state'] | 'none',
    now: number,
  ): Promise<void> {
    return this.transaction(async (c) => {
      for (const [u, o, st] of [
        [a, b, stateA],
        [b, a, stateB],
      ] as const) {
        if (st === 'none')
          await c.query('DELETE FROM contacts WHERE user_id = $1 AND contact_id = $2', [u, o]);
        else
          await c.query(
            `INSERT INTO contacts (user_id, contact_id, state, since) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, contact_id) DO UPDATE SET state = excluded.state, since = excluded.since`,
            [u, o, st, now],
          );
      }
    });
  }
  async recordDecline(userId: string, requesterId: string, at: number): Promise<void> {
    await this.rows(
      `INSERT INTO contact_declines (user_id, requester_id, declined_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, requester_id) DO UPDATE SET declined_at = excluded.declined_at`,
      [userId, requesterId, at],
    );
  }
  async declinedAt(userId: string, requesterId: string): Promise<number | null> {
    const [r] = await this.rows<{ declined_at: number }>(
      'SELECT declined_at FROM contact_declines WHERE user_id = $1 AND requester_id = $2',
      [userId, requesterId],
    );
    return r ? Number(r.declined_at) : null;
  }
  block(blockerId: string, blockedId: string, now: number): Promise<void> {
    const key = directKey(blockerId, blockedId);
    return this.transaction(async (c) => {
      // Blocks and unblocks of one pair, from any server, one at a time: the conversation's
      // flag is derived from the blocks table and must not be written from a stale view.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PAIR_LOCK, key]);
      await c.query(
        `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [blockerId, blockedId, now],
      );
      await c.query(`UPDATE conversations SET blocked = true WHERE direct_key = $1 AND kind = 'direct'`, [
        key,
      ]);
    });
  }
  unblock(blockerId: string, blockedId: string): Promise<void> {
    const key = directKey(blockerId, blockedId);
    return this.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PAIR_LOCK, key]);
      await c.query('DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2', [blockerId, blockedId]);
      await c.query(
        `UPDATE conversations SET blocked = EXISTS (
           SELECT 1 FROM blocks
           WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)
         )
         WHERE direct_key = $3 AND kind = 'direct'`,
        [blockerId, blockedId, key],
      );
    });
  }
  async isBlockedEither(a: string, b: string): Promise<boolean> {
    return (await this.blockedAmong(a, [b])).length > 0;
  }
  async blockedAmong(userId: string, others: readonly string[]): Promise<string[]> {
    if (others.length === 0) return [];
    const rows = await this.rows<{ id: string }>(
      `SELECT q.id FROM unnest($2::text[]) WITH ORDINALITY AS q(id, ord)
       WHERE EXISTS (
         SELECT 1 FROM blocks b
         WHERE (b.blocker_id = $1 AND b.blocked_id = q.id) OR (b.blocker_id = q.id AND b.blocked_id = $1)
       )
       ORDER BY q.ord`,
      [userId, others],
    );
    return rows.map((r) => r.id);
  }
  async listBlocked(userId: string): Promise<string[]> {
    const rows = await this.rows<{ blocked_id: string }>(
      'SELECT blocked_id FROM blocks WHERE blocker_id = $1 ORDER BY created_at, blocked_id',
      [userId],
    );
    return rows.map((r) => r.blocked_id);
  }

  // ---- push notifications ----

  async setMute(conversationId: string, userId: string, until: number | null): Promise<boolean> {
    const rows = await this.rows(
      'UPDATE members SET muted_until = $1 WHERE conversation_id = $2 AND user_id = $3 RETURNING user_id',
      [until, conversationId, userId],
    );
    return rows.length > 0;
  }
  async setPushPreview(userId: string, preview: boolean): Promise<void> {
    await this.rows('UPDATE users SET push_preview = $1 WHERE id = $2', [preview, userId]);
  }
  savePushSubscription(sub: PushSubscriptionRow): Promise<PushSubscriptionRow> {
    return this.transaction(async (c) => {
      // Registrations of one endpoint, from any server, one at a time.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        PUSH_LOCK,
        `${sub.kind}:${sub.address}`,
      ]);
      const { rows } = await c.query<PushSubscriptionDbRow>(
        'SELECT * FROM push_subscriptions WHERE kind = $1 AND address = $2',
        [sub.kind, sub.address],
      );
      const old = rows[0];
      if (old && old.user_id === sub.userId) {
        const moved = await c.query<PushSubscriptionDbRow>(
          'UPDATE push_subscriptions SET device_id = $1, p256dh = $2, auth = $3 WHERE id = $4 RETURNING *',
          [sub.deviceId, sub.p256dh, sub.auth, old.id],
        );
        return toPushSubscription(moved.rows[0] as PushSubscriptionDbRow);
      }
      if (old) {
        // Another account's endpoint (the browser was logged in as someone else): start over,
        // so none of their queued notifications reach this user.
        await c.query('DELETE FROM push_jobs WHERE subscription_id = $1', [old.id]);
        await c.query('DELETE FROM push_subscriptions WHERE id = $1', [old.id]);
      }
      await c.query(
        `INSERT INTO push_subscriptions (id, user_id, device_id, kind, address, p256dh, auth, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [sub.id, sub.userId, sub.deviceId, sub.kind, sub.address, sub.p256dh, sub.auth, sub.createdAt],
      );
      return sub;
    });
  }
  async listPushSubscriptions(userId: string): Promise<PushSubscriptionRow[]> {
    const rows = await this.rows<PushSubscriptionDbRow>(
      'SELECT * FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id',
      [userId],
    );
    return rows.map(toPushSubscription);
  }
  deletePushSubscription(id: string, userId?: string): Promise<boolean> {
    return this.transaction(async (c) => {
      const { rows } = await c.query(
        'DELETE FROM push_subscriptions WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) RETURNING id',
        [id, userId ?? null],
      );
      if (rows.length === 0) return false;
      await c.query('DELETE FROM push_jobs WHERE subscription_id = $1', [id]);
      return true;
    });
  }
  async pushTargets(
    entries: readonly { conversationId: string; userIds: readonly string[] }[],
    now: number,
  ): Promise<PushTargetRow[]> {
    const convs: string[] = [];
    const users: string[] = [];
    for (const e of entries) {
      for (const u of e.userIds) {
        convs.push(e.conversationId);
        users.push(u);
      }
    }
    if (users.length === 0) return [];
    const rows = await this.rows<
      PushSubscriptionDbRow & { conv: string; read_seq: number; push_preview: boolean }
    >(
      `SELECT q.c AS conv, m.read_seq, u.push_preview, s.*
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(c, u, ord)
       JOIN members m ON m.conversation_id = q.c AND m.user_id = q.u
       JOIN users u ON u.id = q.u
       JOIN push_subscriptions s ON s.user_id = q.u
       WHERE (m.muted_until IS NULL OR m.muted_until <= $3) AND m.request_seq IS NULL
       ORDER BY q.ord, s.created_at, s.id`,
      [convs, users, now],
    );
    return rows.map((r) => ({
      conversationId: r.conv,
      userId: r.user_id,
      readSeq: r.read_seq,
      pushPreview: r.push_preview,
      subscription: toPushSubscription(r),
    }));
  }
  async enqueuePushJobs(jobs: readonly NewPushJob[]): Promise<number> {
    if (jobs.length === 0) return 0;
    const rows = await this.rows(
      `INSERT INTO push_jobs (message_id, subscription_id, payload, next_attempt_at, created_at)
       SELECT m, s, p, t, t FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) AS q(m, s, p, t)
       ON CONFLICT (message_id, subscription_id) DO NOTHING
       RETURNING id`,
      [
        jobs.map((j) => j.messageId),
        jobs.map((j) => j.subscriptionId),
        jobs.map((j) => j.payload),
        jobs.map((j) => j.createdAt),
      ],
    );
    return rows.length;
  }
  async claimPushJobs(now: number, limit: number, leaseMs: number): Promise<PushJobRow[]> {
    // One statement: the due rows are locked as they are picked (rows another server is
    // claiming right now are skipped, not waited for), then leased and returned.
    const rows = await this.rows<
      PushSubscriptionDbRow & {
        j_id: number;
        message_id: string;
        payload: string;
        attempts: number;
        j_created_at: number;
      }
    >(
      `WITH claimed AS (
         UPDATE push_jobs SET next_attempt_at = $1::int8 + $3::int8, attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM push_jobs
           WHERE state = 'pending' AND next_attempt_at <= $1
           ORDER BY next_attempt_at, id
           LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         RETURNING id, message_id, subscription_id, payload, attempts, created_at
       )
       SELECT j.id AS j_id, j.message_id, j.payload, j.attempts, j.created_at AS j_created_at, s.*
       FROM claimed j JOIN push_subscriptions s ON s.id = j.subscription_id
       ORDER BY j.id`,
      [now, limit, leaseMs],
    );
    return rows.map((r) => ({
      id: r.j_id,
      messageId: r.message_id,
      payload: r.payload,
      attempts: r.attempts,
      createdAt: r.j_created_at,
      subscription: toPushSubscription(r),
    }));
  }
  async finishPushJob(id: number, state: 'sent' | 'dropped'): Promise<void> {
    // Kept only so that it is never queued again: its payload (which may quote the message) goes.
    await this.rows("UPDATE push_jobs SET state = $1, payload = '' WHERE id = $2 AND state = 'pending'", [
      state,
      id,
    ]);
  }
  async retryPushJob(id: number, at: number, untried = false): Promise<void> {
    await this.rows(
      untried
        ? "UPDATE push_jobs SET next_attempt_at = $1, attempts = GREATEST(0, attempts - 1) WHERE id = $2 AND state = 'pending'"
        : "UPDATE push_jobs SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending'",
      [at, id],
    );
  }
  async purgePushJobs(before: number, keep?: number): Promise<number> {
    const rows = await this.rows(
      "DELETE FROM push_jobs WHERE state <> 'pending' AND created_at < $1 RETURNING id",
      [before],
    );
    if (keep === undefined) return rows.length;
    const beyond = await this.rows(
      `DELETE FROM push_jobs WHERE state <> 'pending' AND id < (
         SELECT id FROM push_jobs WHERE state <> 'pending' ORDER BY id DESC LIMIT 1 OFFSET $1)
       RETURNING id`,
      [Math.max(0, keep - 1)],
    );
    return rows.length + beyond.length;
  }
  async serverValue(key: string, value: string): Promise<string> {
    const [ins] = await this.rows<{ value: string }>(
      'INSERT INTO server_values (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING value',
      [key, value],
    );
    if (ins) return ins.value;
    // Someone else's row: read it in a new statement (a new snapshot, which sees their commit).
    const [r] = await this.rows<{ value: string }>('SELECT value FROM server_values WHERE key = $1', [key]);
    if (!r) throw new Error(`server value ${key} vanished`);
    return r.value;
  }

  // ---- lifecycle ----

  async ping(): Promise<void> {
    await this.rows('SELECT 1');
  }
  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/** Apply pending migrations in order (the caller holds the migration lock in a transaction). */
async function migrate(c: Queryable, messagePartitions: number): Promise<void> {
  await c.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  const { rows } = await c.query<{ version: number }>('SELECT version FROM schema_migrations');
  const done = new Set(rows.map((r) => r.version));
  for (const m of POSTGRES_MIGRATIONS) {
    if (done.has(m.version)) continue;
    await c.query(m.sql({ messagePartitions }));
    await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
  }
}

/**
 * One message's answer from `parley_append_json`: `[i, status, seq, pos, id, created_at,
 * members, prev]`, i from 1 in the batch's order.
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

async function appendWithRetry(db: Queryable, batch: readonly NewMessage[]): Promise<AppendResult[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await appendOneStatement(db, batch);
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

/**
 * Append a batch with one statement: `parley_append_batch` (migration 10) takes its locks
 * and does the idempotency check, membership and block checks, seq and position assignment,
 * the feed-head chain and every insert inside PostgreSQL, then the implicit transaction
 * commits. The batch goes in and the answers come back as JSON (encoded and parsed natively on
 * both sides). Here only what needs no database: refusing NUL (PostgreSQL text cannot hold
 * it; this message only, not the whole batch) and resends of a (sender, client id) inside the
 * batch, which answer like the original once it has its seq and pos.
 */
async function appendOneStatement(db: Queryable, batch: readonly NewMessage[]): Promise<AppendResult[]> {
  const results: (AppendResult | number)[] = [];
  const sent: NewMessage[] = [];
  const firstByKey = new Map<string, number>();
  for (const given of batch) {
    // PostgreSQL text cannot hold NUL: refused for this message only (a conversation id with
    // one names no conversation), never failing the batch of other users' messages.
    if (given.text.includes('\u0000') || given.clientId.includes('\u0000')) {
      results.push({ ok: false, code: 'invalid_field' });
      continue;
    }
    if (given.conversationId.includes('\u0000')) {
      results.push({ ok: false, code: 'not_found' });
      continue;
    }
    const m = wellFormed(given);
    const key = idemKey(m.senderId, m.clientId);
    const earlier = firstByKey.get(key);
    if (earlier !== undefined) {
      const o = sent[earlier] as NewMessage;
      results.push(
        o.conversationId === m.conversationId && o.text === m.text
          ? -1 - earlier // resolved below
          : { ok: false, code: 'client_id_conflict' },
      );
      continue;
    }
    firstByKey.set(key, sent.length);
    results.push(sent.length);
    sent.push(m);
  }
  const answers: AppendResult[] = [];
  if (sent.length > 0) {
    // Named: each connection parses and plans the call once, not once per batch (columns
    // listed, as for every named statement: see `rows`).
    const { rows } = await db.query<{ r: AppendAnswer[] | null }>({
      name: 'parley_append_batch',
      text: 'SELECT parley_append_batch($1) AS r',
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
          })),
        ),
      ],
    });
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
        text: m.text,
        createdAt,
      };
      answers[i - 1] =
        status === 'duplicate'
          ? { ok: true, message, duplicate: true, recipients: [], prev: [] }
          : { ok: true, message, duplicate: false, recipients: members ?? [], prev: prev ?? [] };
    }
  }
  return results.map((r) => {
    if (typeof r !== 'number') return r;
    if (r >= 0) {
      const a = answers[r];
      if (!a) throw new Error('parley_append returned no row for a message');
      return a;
    }
    const a = answers[-1 - r];
    if (!a) throw new Error('parley_append returned no row for a message');
    // A resend inside the batch: the original.
    return a.ok ? { ok: true, message: a.message, duplicate: true, recipients: [], prev: [] } : a;
  });
}
