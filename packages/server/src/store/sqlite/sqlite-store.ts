import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULT_PRIVACY, ParleyError } from '@parley/protocol';
import type { Message, PrivacySettings } from '@parley/protocol';
import type {
  AccountStore,
  AppendResult,
  ConversationRow,
  ContactRow,
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
import { SQLITE_MIGRATIONS } from './migrations.js';
import { inSpaceZero } from '../common/feed-cursor.js';
import type { SqliteMigration } from './migrations.js';
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

export interface SqliteStoreOptions {
  /** Database file path, or ':memory:'. */
  path: string;
  /**
   * `normal` (default): WAL with synchronous=NORMAL; a committed transaction survives a
   * process crash or SIGKILL (the WAL is written before commit returns) but the last
   * commits may be lost on power failure. `full`: fsync at every commit (group commit
   * amortizes it) so commits also survive power loss.
   */
  durability?: 'normal' | 'full';
  /**
   * `writer` (default): migrates the schema and writes. `reader`: a read-only connection to
   * a file a writer has open (WAL lets it read while the writer commits); it serves the pure
   * reads of the threaded store. `checkpointer`: only runs `walCheckpoint` (copies WAL frames
   * into the database file off the writer's thread).
   */
  role?: 'writer' | 'reader' | 'checkpointer';
  /**
   * WAL pages after which a commit runs a checkpoint itself (SQLite's `wal_autocheckpoint`).
   * Default 10,000: fewer, larger checkpoints write a page that several commits touched once.
   * The threaded store raises it: its checkpointer thread does that work.
   */
  walAutocheckpoint?: number;
  /**
   * Writer only: run `PRAGMA quick_check` when opening (it reads every page; docs/deploy.md §8
   * gives its cost) and refuse a damaged file. Default false; the server turns it on.
   */
  quickCheck?: boolean;
}

/** An error SQLite raises for a damaged file (`SQLITE_CORRUPT*`) or one that is not a database. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Page size of new database files (existing files keep theirs: changing it needs a VACUUM). */
export const SQLITE_NEW_PAGE_SIZE = 4096;

const SUMMARY_SELECT = `
  SELECT c.id, c.kind, c.name, c.created_at, c.last_activity_at, c.last_seq,
         m.role, m.read_seq, m.muted_until, m.request_seq,
         (SELECT COUNT(*) FROM members x WHERE x.conversation_id = c.id) AS member_count,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.user_id, m.user_id) END AS peer_id,
         CASE WHEN c.kind = 'direct' THEN MAX(COALESCE(p.delivered_seq, m.delivered_seq), COALESCE(p.read_seq, m.read_seq)) END AS peer_delivered_seq,
         CASE WHEN c.kind = 'direct' THEN COALESCE(p.read_seq, m.read_seq) END AS peer_read_seq,
         lm.pos AS m_pos, lm.id AS m_id, lm.seq AS m_seq, lm.sender_id AS m_sender_id,
         lm.client_id AS m_client_id, lm.text AS m_text, lm.created_at AS m_created_at
  FROM members m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN members p ON c.kind = 'direct' AND p.conversation_id = c.id AND p.user_id <> m.user_id
  LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq`;

/** A member's conversation is in their list: not a request, or a request with a message not deleted. */
const REQUEST_SHOWN = '(m.request_seq IS NULL OR c.last_seq > m.request_seq)';

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

/** One conversation's part of a feed being read (`readFeed`). */
interface FeedCursor {
  conversationId: string;
  /** The next seq to read. */
  next: number;
  /** The part ends at this pos (a removed member's last message of it). */
  hi: number;
  rows: MessageDbRow[];
  at: number;
  done: boolean;
}

/** The rows of a history page (rn <= @n) as a JSON array of protocol Messages, by seq. */
const PAGE_JSON = `coalesce(json_group_array(json_object(
  'id', id, 'conversationId', conversation_id, 'seq', seq, 'pos', pos, 'senderId', sender_id,
  'clientId', client_id, 'text', text, 'createdAt', created_at) ORDER BY seq) FILTER (WHERE rn <= @n), '[]')`;

/** The unique key of the direct conversation of two users, whoever asks. */
function directKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    insertUser: p(
      'INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    userById: p('SELECT * FROM users WHERE id = ?'),
    userByName: p('SELECT * FROM users WHERE username = ?'),
    setDisplayName: p('UPDATE users SET display_name = ? WHERE id = ?'),
    privacy: p(`SELECT ${PRIVACY_COLUMNS} FROM users WHERE id = ?`),
    // A null parameter keeps that setting.
    setPrivacy: p(
      `UPDATE users SET privacy_last_seen = COALESCE(@lastSeen, privacy_last_seen),
         privacy_online = COALESCE(@online, privacy_online),
         privacy_direct_messages = COALESCE(@directMessages, privacy_direct_messages),
         privacy_group_adds = COALESCE(@groupAdds, privacy_group_adds)
       WHERE id = @id RETURNING ${PRIVACY_COLUMNS}`,
    ),
    insertDevice: p(
      'INSERT INTO devices (id, user_id, name, token_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deviceByToken: p(
      `SELECT d.id AS d_id, d.user_id, d.name AS d_name, d.created_at AS d_created_at, d.last_seen_at,
              u.id, u.username, u.display_name, u.password_hash, u.created_at
       FROM devices d JOIN users u ON u.id = d.user_id
       WHERE d.token_hash = ? AND d.revoked_at IS NULL`,
    ),
    listDevices: p('SELECT * FROM devices WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at'),
    revokeDevice: p('UPDATE devices SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL'),
    touchDevice: p('UPDATE devices SET last_seen_at = ? WHERE id = ?'),
    directByKey: p('SELECT * FROM conversations WHERE direct_key = ?'),
    insertConversation: p(
      `INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at, last_seq, created_by)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
    ),
    createdSince: p(
      'SELECT created_at FROM conversations WHERE created_by = ? AND created_at >= ? ORDER BY created_at LIMIT ?',
    ).pluck(),
    setRequest: p('UPDATE members SET request_seq = 0 WHERE conversation_id = ? AND user_id = ?'),
    acceptRequest: p(
      'UPDATE members SET request_seq = NULL WHERE conversation_id = ? AND user_id = ? AND request_seq IS NOT NULL',
    ),
    dismissRequest: p(
      `UPDATE members SET request_seq = (SELECT last_seq FROM conversations WHERE id = @c)
       WHERE conversation_id = @c AND user_id = @u AND request_seq IS NOT NULL`,
    ),
    recordDecline: p(
      `INSERT INTO contact_declines (user_id, requester_id, declined_at) VALUES (?, ?, ?)
       ON CONFLICT (user_id, requester_id) DO UPDATE SET declined_at = excluded.declined_at`,
    ),
    declinedAt: p('SELECT declined_at FROM contact_declines WHERE user_id = ? AND requester_id = ?').pluck(),
    // A member's feed of the conversation starts after its newest message (joined_pos).
    insertMember: p(
      `INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq, joined_pos)
       SELECT @c, @u, @role, @at, last_seq, last_pos FROM conversations WHERE id = @c
       ON CONFLICT DO NOTHING`,
    ),
    conversationById: p('SELECT * FROM conversations WHERE id = ?'),
    renameGroup: p("UPDATE conversations SET name = ? WHERE id = ? AND kind = 'group'"),
    member: p('SELECT * FROM members WHERE conversation_id = ? AND user_id = ?'),
    members: p('SELECT * FROM members WHERE conversation_id = ? ORDER BY joined_at, user_id'),
    memberIds: p('SELECT user_id FROM members WHERE conversation_id = ?').pluck(),
    memberCount: p('SELECT COUNT(*) FROM members WHERE conversation_id = ?').pluck(),
    removeMember: p('DELETE FROM members WHERE conversation_id = ? AND user_id = ?'),
    // What a removed member's feed had of the conversation stays in it (protocol.md, `pos`).
    keepFormer: p(
      `INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos)
       SELECT m.user_id, m.conversation_id, m.joined_pos, c.last_pos
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = ? AND m.user_id = ? AND c.last_pos > m.joined_pos
       ON CONFLICT DO NOTHING`,
    ),
    // Only group memberships are kept (a direct conversation has no leaving).
    keepLeft: p(
      `INSERT INTO left_members (user_id, conversation_id, left_at, left_seq, left_by, name)
       SELECT m.user_id, c.id, @at, c.last_seq, @by, c.name
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = @c AND m.user_id = @u AND c.kind = 'group'
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET
         left_at = excluded.left_at, left_seq = excluded.left_seq, left_by = excluded.left_by,
         name = excluded.name`,
    ),
    left: p('SELECT * FROM left_members WHERE conversation_id = ? AND user_id = ?'),
    listLeft: p('SELECT * FROM left_members WHERE user_id = ? ORDER BY left_at DESC, conversation_id'),
    deleteLeft: p('DELETE FROM left_members WHERE conversation_id = ? AND user_id = ?'),
    relatedUsers: p(
      `SELECT @u UNION
       SELECT b.user_id FROM members a JOIN members b ON b.conversation_id = a.conversation_id
       WHERE a.user_id = @u
       UNION SELECT contact_id FROM contacts WHERE user_id = @u
       ORDER BY 1`,
    ).pluck(),
    setRole: p('UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?'),
    listConversations: p(
      `${SUMMARY_SELECT} WHERE m.user_id = ? AND ${REQUEST_SHOWN}
       ORDER BY c.last_activity_at DESC, c.id LIMIT ?`,
    ),
    summary: p(`${SUMMARY_SELECT} WHERE m.user_id = ? AND c.id = ? AND ${REQUEST_SHOWN}`),
    idem: p('SELECT * FROM messages WHERE sender_id = ? AND client_id = ?'),
    convForAppend: p('SELECT last_seq, last_pos, blocked FROM conversations WHERE id = ?'),
    setLastSeq: p('UPDATE conversations SET last_seq = ?, last_pos = ?, last_activity_at = ? WHERE id = ?'),
    insertMessage: p(
      `INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, text, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    senderRead: p(
      'UPDATE members SET read_seq = ? WHERE conversation_id = ? AND user_id = ? AND read_seq < ?',
    ),
    historyBefore: p(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    historyAfter: p('SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?'),
    // A page as JSON (HistoryPage): n+1 rows are read, the one past the page only tells hasMore.
    historyBeforeJson: p(`SELECT count(*) AS n, ${PAGE_JSON} AS json FROM (
      SELECT *, row_number() OVER (ORDER BY seq DESC) AS rn FROM messages
      WHERE conversation_id = @c AND seq < @at ORDER BY seq DESC LIMIT @n + 1)`),
    historyAfterJson: p(`SELECT count(*) AS n, ${PAGE_JSON} AS json FROM (
      SELECT *, row_number() OVER (ORDER BY seq) AS rn FROM messages
      WHERE conversation_id = @c AND seq > @at ORDER BY seq LIMIT @n + 1)`),
    // The parts of conversations a user's feed has after a position: (lo, hi] in pos, hi null
    // for conversations they are a member of now.
    feedSources: p(
      `SELECT c.id, c.last_seq, m.joined_pos AS lo, NULL AS hi
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = @u AND c.last_pos > MAX(@since, m.joined_pos)
       UNION ALL
       SELECT c.id, c.last_seq, f.joined_pos, f.left_pos
       FROM former_members f JOIN conversations c ON c.id = f.conversation_id
       WHERE f.user_id = @u AND f.left_pos > MAX(@since, f.joined_pos)`,
    ),
    // pos is the rowid, so the (conversation_id, seq) index answers this alone.
    posAtSeq: p('SELECT pos FROM messages WHERE conversation_id = ? AND seq = ?').pluck(),
    fromSeq: p('SELECT * FROM messages WHERE conversation_id = ? AND seq >= ? ORDER BY seq LIMIT ?'),
    feedHead: p(
      `SELECT MAX(h) FROM (
         SELECT CASE WHEN c.last_pos > m.joined_pos THEN c.last_pos ELSE 0 END AS h
         FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = @u
         UNION ALL
         SELECT CASE WHEN left_pos > joined_pos THEN left_pos ELSE 0 END FROM former_members WHERE user_id = @u)`,
    ).pluck(),
    setRead: p(
      `UPDATE members SET read_seq = MIN(?, (SELECT last_seq FROM conversations WHERE id = ?))
       WHERE conversation_id = ? AND user_id = ? AND read_seq < ?`,
    ),
    readSeq: p('SELECT read_seq FROM members WHERE conversation_id = ? AND user_id = ?').pluck(),
    setDelivered: p(
      `UPDATE members SET delivered_seq = MIN(?, (SELECT last_seq FROM conversations WHERE id = ?))
       WHERE conversation_id = ? AND user_id = ? AND delivered_seq < ? AND delivered_seq < (SELECT last_seq FROM conversations WHERE id = ?)
       RETURNING conversation_id, user_id, delivered_seq, read_seq`,
    ),
    setLastActive: p('UPDATE users SET last_active_at = MAX(COALESCE(last_active_at, 0), ?) WHERE id = ?'),
    audience: p(
      `SELECT contact_id FROM contacts WHERE user_id = @u AND state = 'accepted'
       UNION
       SELECT p.user_id FROM members m JOIN conversations c ON c.id = m.conversation_id AND c.kind = 'direct'
       JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id
       WHERE m.user_id = @u AND m.request_seq IS NULL AND p.request_seq IS NULL`,
    ).pluck(),
    sharesConversation: p(
      `SELECT 1 FROM members a JOIN members b ON a.conversation_id = b.conversation_id
       WHERE a.user_id = ? AND b.user_id = ? AND a.request_seq IS NULL AND b.request_seq IS NULL LIMIT 1`,
    ).pluck(),
    contactState: p('SELECT state FROM contacts WHERE user_id = ? AND contact_id = ?').pluck(),
    acceptedContacts: p(
      "SELECT contact_id FROM contacts WHERE user_id = ? AND state = 'accepted' ORDER BY contact_id",
    ).pluck(),
    listContacts: p('SELECT contact_id, state, since FROM contacts WHERE user_id = ? ORDER BY since'),
    upsertContact: p(
      `INSERT INTO contacts (user_id, contact_id, state, since) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, contact_id) DO UPDATE SET state = excluded.state, since = excluded.since`,
    ),
    deleteContact: p('DELETE FROM contacts WHERE user_id = ? AND contact_id = ?'),
    insertBlock: p(
      'INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteBlock: p('DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?'),
    blockedEither: p(
      'SELECT 1 FROM blocks WHERE (blocker_id = @a AND blocked_id = @b) OR (blocker_id = @b AND blocked_id = @a) LIMIT 1',
    ).pluck(),
    listBlocked: p('SELECT blocked_id FROM blocks WHERE blocker_id = ? ORDER BY created_at').pluck(),
    setDirectBlocked: p("UPDATE conversations SET blocked = ? WHERE direct_key = ? AND kind = 'direct'"),
    setMute: p('UPDATE members SET muted_until = ? WHERE conversation_id = ? AND user_id = ?'),
    setPushPreview: p('UPDATE users SET push_preview = ? WHERE id = ?'),
    subByAddress: p('SELECT * FROM push_subscriptions WHERE kind = ? AND address = ?'),
    subById: p('SELECT * FROM push_subscriptions WHERE id = ?'),
    insertSub: p(
      `INSERT INTO push_subscriptions (id, user_id, device_id, kind, address, p256dh, auth, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    moveSub: p('UPDATE push_subscriptions SET device_id = ?, p256dh = ?, auth = ? WHERE id = ?'),
    deleteSub: p('DELETE FROM push_subscriptions WHERE id = ?'),
    deleteSubJobs: p('DELETE FROM push_jobs WHERE subscription_id = ?'),
    subsOfUser: p('SELECT * FROM push_subscriptions WHERE user_id = ? ORDER BY created_at, id'),
    deleteDeviceJobs: p(
      'DELETE FROM push_jobs WHERE subscription_id IN (SELECT id FROM push_subscriptions WHERE device_id = ?)',
    ),
    deleteDeviceSubs: p('DELETE FROM push_subscriptions WHERE device_id = ?'),
    pushTargets: p(
      `SELECT m.read_seq, u.push_preview, s.*
       FROM members m JOIN users u ON u.id = m.user_id JOIN push_subscriptions s ON s.user_id = m.user_id
       WHERE m.conversation_id = ? AND m.user_id = ? AND (m.muted_until IS NULL OR m.muted_until <= ?)
         AND m.request_seq IS NULL
       ORDER BY s.created_at, s.id`,
    ),
    insertJob: p(
      `INSERT INTO push_jobs (message_id, subscription_id, payload, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    dueJobs: p(
      `SELECT j.id FROM push_jobs j WHERE j.state = 'pending' AND j.next_attempt_at <= ?
       ORDER BY j.next_attempt_at, j.id LIMIT ?`,
    ).pluck(),
    leaseJob: p('UPDATE push_jobs SET next_attempt_at = ?, attempts = attempts + 1 WHERE id = ?'),
    jobWithSub: p(
      `SELECT j.id AS j_id, j.message_id, j.payload, j.attempts, j.created_at AS j_created_at, s.*
       FROM push_jobs j JOIN push_subscriptions s ON s.id = j.subscription_id WHERE j.id = ?`,
    ),
    // A finished job is kept only so that it is never queued again: its payload (which may
    // quote the message) goes.
    finishJob: p("UPDATE push_jobs SET state = ?, payload = '' WHERE id = ? AND state = 'pending'"),
    retryJob: p("UPDATE push_jobs SET next_attempt_at = ? WHERE id = ? AND state = 'pending'"),
    handBackJob: p(
      "UPDATE push_jobs SET next_attempt_at = ?, attempts = MAX(0, attempts - 1) WHERE id = ? AND state = 'pending'",
    ),
    purgeJobs: p("DELETE FROM push_jobs WHERE state <> 'pending' AND created_at < ?"),
    purgeJobsBeyond: p(
      `DELETE FROM push_jobs WHERE state <> 'pending' AND id < (
         SELECT id FROM push_jobs WHERE state <> 'pending' ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    ),
    insertValue: p('INSERT INTO server_values (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    value: p('SELECT value FROM server_values WHERE key = ?').pluck(),
  };
}

/**
 * The embedded store's directory and files (at `path`) that users other than the owner may
 * read or write, each with its mode in octal; none on Windows, which has no such modes.
 */
export function looseDataModes(path: string): string[] {
  if (process.platform === 'win32') return [];
  const loose: string[] = [];
  for (const p of [dirname(path), path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(p).mode & 0o777;
    } catch {
      continue; // not created (yet)
    }
    if ((mode & 0o077) !== 0) loose.push(`${p} (${mode.toString(8).padStart(4, '0')})`);
  }
  return loose;
}

/** The embedded store: one SQLite file in WAL mode, every statement prepared once. */
export class SqliteStore
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
    multiWriter: false,
    orderedAppends: true,
    positionSpaces: 1,
  };
  // Each aggregate is this object, until the adapter is split by aggregate.
  readonly accounts: AccountStore = this;
  readonly conversations: ConversationStore = this;
  readonly messages: MessageStore = this;
  readonly social: SocialStore = this;
  readonly push: PushQueueStore = this;
  readonly values: ServerValueStore = this;
  private readonly db: Database.Database;
  private readonly s: ReturnType<typeof prepareStatements>;
  private readonly appendTx: (batch: readonly NewMessage[]) => AppendResult[];
  private readonly readFeedTx: (userId: string, since: number, limit: number) => FeedPage;
  private readonly historyJsonTx: (
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ) => string | null;

  constructor(opts: SqliteStoreOptions) {
    const role = opts.role ?? 'writer';
    if (role === 'writer' && opts.path !== ':memory:') {
      // Every message, password and token hash and the VAPID private key live here: owner only.
      // SQLite gives the -wal and -shm files the database file's mode.
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      closeSync(openSync(opts.path, 'a', 0o600));
    }
    this.db = new Database(opts.path, { readonly: role === 'reader', fileMustExist: role !== 'writer' });
    if (role === 'writer') {
      if (opts.path !== ':memory:' && (this.db.pragma('page_count', { simple: true }) as number) === 0)
        this.db.pragma(`page_size = ${SQLITE_NEW_PAGE_SIZE}`);
      this.db.pragma('journal_mode = WAL');
      const autocheckpoint = opts.walAutocheckpoint ?? 10_000;
      this.db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
      // After a checkpoint lets the WAL start over, cut the file back to this size: no smaller
      // than the WAL grows between two checkpoints, so that a busy WAL is overwritten in place.
      // Cutting it back to 64 MB while it grew to ~120 MB a second made every WAL restart
      // re-allocate the file's blocks, and the fsync of the next checkpoint wait for that
      // (dm at 10,000 msgs/s: p99 58 -> 33 ms; docs/performance.md).
      const pageSize = this.db.pragma('page_size', { simple: true }) as number;
      this.db.pragma(`journal_size_limit = ${Math.max(64 * 1024 * 1024, autocheckpoint * pageSize)}`);
    }
    this.db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma(`cache_size = ${role === 'checkpointer' ? -2048 : -65536}`);
    this.db.pragma('temp_store = MEMORY');
    if (role === 'writer' && opts.quickCheck) this.quickCheck(opts.path);
    if (role === 'writer') this.migrate();
    this.s = prepareStatements(this.db);
    this.readFeedTx = this.db.transaction((userId: string, since: number, limit: number) =>
      this.readFeedPage(userId, since, limit),
    );
    // Membership and page from one snapshot.
    this.historyJsonTx = this.db.transaction(
      (conversationId: string, userId: string, opts: { before?: number; after?: number; limit: number }) =>
        this.historyJsonPage(conversationId, userId, opts),
    );
    this.appendTx = this.writeTx((batch: readonly NewMessage[]) => {
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

  /**
   * Copy WAL frames into the database file (PASSIVE: never waits for, nor blocks, the
   * writer or readers). Run by the writer it also finishes the job, so that its next commit
   * starts the WAL over from the beginning.
   */
  async walCheckpoint(): Promise<{ log: number; checkpointed: number }> {
    const [r] = this.db.pragma('wal_checkpoint(PASSIVE)') as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    return { log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0 };
  }

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

  private flushBatch(): void {
    for (const c of this.batchConvs) this.s.setLastSeq.run(c.lastSeq, c.lastPos, c.at, c.id);
    for (const r of this.batchReads.values()) this.s.senderRead.run(r.seq, r.conversationId, r.userId, r.seq);
  }

  private convState(id: string): ConvState | undefined {
    let c = this.convs.get(id);
    if (!c) {
      const row = this.s.convForAppend.get(id) as
        { last_seq: number; last_pos: number; blocked: number } | undefined;
      if (!row) return undefined;
      c = {
        id,
        lastSeq: row.last_seq,
        lastPos: row.last_pos,
        at: 0,
        blocked: row.blocked === 1,
        // Frozen: results of one batch share it (one copy to clone across the thread).
        members: Object.freeze(this.s.memberIds.all(id) as string[]),
      };
      this.convs.set(id, c);
    }
    return c;
  }

  /**
   * Feed heads of recently active users. Exact for the same reason as `convs`; within a batch,
   * a user whose head is not cached had no message yet in it, so the rows still hold their head.
   */
  private readonly heads = new Map<string, number>();

  private feedHeadOf(userId: string): number {
    let h = this.heads.get(userId);
    if (h === undefined) {
      h = (this.s.feedHead.get({ u: userId }) as number | null) ?? 0;
      this.heads.set(userId, h);
    }
    return h;
  }

  /**
   * A transaction that writes, begun with BEGIN IMMEDIATE. A deferred transaction that reads
   * first asks for the write lock only at its first write, and in WAL mode that upgrade fails
   * at once with SQLITE_BUSY ("database is locked"), without the busy timeout, if another
   * connection holds the lock for a moment (the reader and checkpointer connections take it
   * briefly when they catch the WAL-index header mid-update). BEGIN IMMEDIATE takes the lock
   * first and waits for it like any other lock.
   */
  private writeTx<F extends (...args: never[]) => unknown>(fn: F): F {
    return this.db.transaction(fn).immediate as unknown as F;
  }

  /** Refuse to serve from a damaged file: every later write would go into it. */
  private quickCheck(path: string): void {
    let problems: string[];
    try {
      const rows = this.db.pragma('quick_check(5)') as { quick_check: string }[];
      // One line per problem; SQLite heads them with "*** in database main ***".
      problems = rows
        .flatMap((r) => r.quick_check.split('\n'))
        .filter((line) => line !== 'ok' && !line.startsWith('***'));
    } catch (err) {
      if (!isCorruption(err)) throw err;
      problems = [(err as Error).message];
    }
    if (problems.length === 0) return;
    this.db.close();
    throw new Error(
      `${path} is damaged (PRAGMA quick_check: ${problems.join('; ')}): restore it from a backup (parley restore) before serving`,
    );
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < SQLITE_MIGRATIONS.length; v++) {
      const migration = SQLITE_MIGRATIONS[v] as SqliteMigration;
      this.writeTx(() => {
        if (typeof migration === 'string') this.db.exec(migration);
        else migration(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private appendOne(given: NewMessage): AppendResult {
    const m = wellFormed(given);
    const s = this.s;
    const prior = s.idem.get(m.senderId, m.clientId) as MessageDbRow | undefined;
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
    const readKey = `${m.conversationId}\u0000${m.senderId}`;
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

  /**
   * The smallest seq of a conversation whose pos is above `lower`, given that the message
   * at `lastSeq` is. pos grows with seq in a conversation, so: probe back from the newest in
   * doubling steps, then bisect; ~2·log2(k) index lookups for k messages after `lower`.
   */
  private firstSeqAfter(conversationId: string, lastSeq: number, lower: number): number {
    const posAt = (seq: number) => this.s.posAtSeq.get(conversationId, seq) as number;
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

  // Every method is synchronous underneath; `async` turns thrown errors into rejections.

  async createUser(u: UserRow): Promise<void> {
    try {
      this.s.insertUser.run(u.id, u.username, u.displayName, u.passwordHash, u.createdAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new ParleyError('username_taken');
      throw err;
    }
  }
  async getUserById(id: string): Promise<UserRow | null> {
    const r = this.s.userById.get(id) as UserDbRow | undefined;
    return r ? toUser(r) : null;
  }
  async getUserByUsername(username: string): Promise<UserRow | null> {
    const r = this.s.userByName.get(username) as UserDbRow | undefined;
    return r ? toUser(r) : null;
  }
  async getUsersByIds(ids: readonly string[]): Promise<UserRow[]> {
    const out: UserRow[] = [];
    for (const id of ids) {
      const r = this.s.userById.get(id) as UserDbRow | undefined;
      if (r) out.push(toUser(r));
    }
    return out;
  }
  async setDisplayName(userId: string, displayName: string): Promise<void> {
    this.s.setDisplayName.run(displayName, userId);
  }
  async getPrivacy(userId: string): Promise<PrivacySettings> {
    const r = this.s.privacy.get(userId) as PrivacyDbRow | undefined;
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }
  async getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]> {
    return userIds.map((id) => {
      const r = this.s.privacy.get(id) as PrivacyDbRow | undefined;
      return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
    });
  }
  async setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
    const r = this.s.setPrivacy.get({
      id: userId,
      lastSeen: patch.lastSeen ?? null,
      online: patch.online ?? null,
      directMessages: patch.directMessages ?? null,
      groupAdds: patch.groupAdds ?? null,
    }) as PrivacyDbRow | undefined;
    return r ? toPrivacy(r) : { ...DEFAULT_PRIVACY };
  }
  async createDevice(d: DeviceRow, tokenHash: string): Promise<void> {
    this.s.insertDevice.run(d.id, d.userId, d.name, tokenHash, d.createdAt, d.lastSeenAt);
  }
  async getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]> {
    return tokenHashes.map((h) => {
      const r = this.s.deviceByToken.get(h) as (UserDbRow & DeviceJoinRow) | undefined;
      return r ? { user: toUser(r), device: deviceOfJoin(r) } : null;
    });
  }
  async listDevices(userId: string): Promise<DeviceRow[]> {
    return (this.s.listDevices.all(userId) as DeviceDbRow[]).map(toDevice);
  }
  async revokeDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.writeTx(() => {
      if (this.s.revokeDevice.run(Date.now(), deviceId, userId).changes === 0) return false;
      this.s.deleteDeviceJobs.run(deviceId);
      this.s.deleteDeviceSubs.run(deviceId);
      return true;
    })();
  }
  async touchDevices(ids: readonly string[], at: number): Promise<void> {
    this.writeTx(() => {
      for (const id of ids) this.s.touchDevice.run(at, id);
    })();
  }

  async getOrCreateDirect(
    id: string,
    userA: string,
    userB: string,
    now: number,
    request = false,
  ): Promise<ConversationRow> {
    const key = directKey(userA, userB);
    return this.writeTx(() => {
      const existing = this.s.directByKey.get(key) as ConversationDbRow | undefined;
      if (existing) return toConversation(existing);
      this.s.insertConversation.run(id, 'direct', '', key, now, now, userA);
      this.s.insertMember.run({ c: id, u: userA, role: 'member', at: now });
      if (userB !== userA) {
        this.s.insertMember.run({ c: id, u: userB, role: 'member', at: now });
        if (request) this.s.setRequest.run(id, userB);
        // A block from before the conversation existed refuses its appends too.
        if (this.s.blockedEither.get({ a: userA, b: userB }) === 1) this.s.setDirectBlocked.run(1, key);
      }
      return toConversation(this.s.conversationById.get(id) as ConversationDbRow);
    })();
  }
  async findDirect(userA: string, userB: string): Promise<ConversationRow | null> {
    const r = this.s.directByKey.get(directKey(userA, userB)) as ConversationDbRow | undefined;
    return r ? toConversation(r) : null;
  }
  async createdSince(userId: string, since: number, limit: number): Promise<number[]> {
    return this.s.createdSince.all(userId, since, limit) as number[];
  }
  async acceptRequest(conversationId: string, userId: string): Promise<boolean> {
    return this.s.acceptRequest.run(conversationId, userId).changes > 0;
  }
  async dismissRequest(conversationId: string, userId: string): Promise<boolean> {
    return this.s.dismissRequest.run({ c: conversationId, u: userId }).changes > 0;
  }
  async createGroup(
    id: string,
    name: string,
    creatorId: string,
    memberIds: readonly string[],
    now: number,
  ): Promise<ConversationRow> {
    return this.writeTx(() => {
      this.s.insertConversation.run(id, 'group', name, null, now, now, creatorId);
      this.s.insertMember.run({ c: id, u: creatorId, role: 'admin', at: now });
      for (const u of memberIds)
        if (u !== creatorId) this.s.insertMember.run({ c: id, u, role: 'member', at: now });
      return toConversation(this.s.conversationById.get(id) as ConversationDbRow);
    })();
  }
  async getConversation(id: string): Promise<ConversationRow | null> {
    const r = this.s.conversationById.get(id) as ConversationDbRow | undefined;
    return r ? toConversation(r) : null;
  }
  async renameGroup(id: string, name: string): Promise<void> {
    this.s.renameGroup.run(name, id);
  }
  async getMember(conversationId: string, userId: string): Promise<MemberRow | null> {
    const r = this.s.member.get(conversationId, userId) as MemberDbRow | undefined;
    return r ? toMember(r) : null;
  }
  async listMembers(conversationId: string): Promise<MemberRow[]> {
    return (this.s.members.all(conversationId) as MemberDbRow[]).map(toMember);
  }
  async addMembers(
    conversationId: string,
    userIds: readonly string[],
    maxMembers: number,
    now: number,
  ): Promise<void> {
    this.convs.delete(conversationId);
    this.writeTx(() => {
      for (const u of userIds) {
        this.s.insertMember.run({ c: conversationId, u, role: 'member', at: now });
        this.s.deleteLeft.run(conversationId, u);
      }
      if ((this.s.memberCount.get(conversationId) as number) > maxMembers)
        throw new ParleyError('group_full');
    })();
  }
  async removeMember(
    conversationId: string,
    userId: string,
    leave: { by?: string | null; at?: number } = {},
  ): Promise<void> {
    this.writeTx(() => {
      this.s.keepLeft.run({ c: conversationId, u: userId, at: leave.at ?? Date.now(), by: leave.by ?? null });
      this.s.keepFormer.run(conversationId, userId);
      this.s.removeMember.run(conversationId, userId);
    })();
    this.convs.delete(conversationId);
  }
  async getLeft(conversationId: string, userId: string): Promise<LeftRow | null> {
    const r = this.s.left.get(conversationId, userId) as LeftDbRow | undefined;
    return r ? toLeft(r) : null;
  }
  async listLeft(userId: string): Promise<LeftRow[]> {
    return (this.s.listLeft.all(userId) as LeftDbRow[]).map(toLeft);
  }
  async deleteLeft(conversationId: string, userId: string): Promise<boolean> {
    return this.s.deleteLeft.run(conversationId, userId).changes > 0;
  }
  async relatedUsers(userId: string): Promise<string[]> {
    return this.s.relatedUsers.all({ u: userId }) as string[];
  }
  async setRole(conversationId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    this.s.setRole.run(role, conversationId, userId);
  }
  async listConversations(userId: string, limit: number): Promise<ConversationSummaryRow[]> {
    return (this.s.listConversations.all(userId, limit) as SummaryDbRow[]).map(toSummary);
  }
  async getConversationSummary(
    conversationId: string,
    userId: string,
  ): Promise<ConversationSummaryRow | null> {
    const r = this.s.summary.get(userId, conversationId) as SummaryDbRow | undefined;
    return r ? toSummary(r) : null;
  }

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]> {
    try {
      return this.appendTx(batch);
    } catch (err) {
      // Rolled back: the caches may hold counters of the batch that never was.
      this.heads.clear();
      this.convs.clear();
      throw err;
    }
  }
  async history(
    conversationId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const n = opts.limit;
    if (opts.after !== undefined) {
      const rows = this.s.historyAfter.all(conversationId, opts.after, n + 1) as MessageDbRow[];
      return { messages: rows.slice(0, n).map(toMessage), hasMore: rows.length > n };
    }
    const before = opts.before ?? Number.MAX_SAFE_INTEGER;
    const rows = this.s.historyBefore.all(conversationId, before, n + 1) as MessageDbRow[];
    return { messages: rows.slice(0, n).reverse().map(toMessage), hasMore: rows.length > n };
  }
  /**
   * The feed, read from the conversations it is made of: a k-way merge by pos of each
   * conversation's messages after `since` (within the member's part of it), read in chunks.
   */
  async historyJson(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<string | null> {
    return this.historyJsonTx(conversationId, userId, opts);
  }

  private historyJsonPage(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): string | null {
    if (!this.s.member.get(conversationId, userId)) return null;
    const args = { c: conversationId, n: opts.limit };
    const r = (
      opts.after !== undefined
        ? this.s.historyAfterJson.get({ ...args, at: opts.after })
        : this.s.historyBeforeJson.get({ ...args, at: opts.before ?? Number.MAX_SAFE_INTEGER })
    ) as { n: number; json: string };
    return `{"messages":${r.json},"hasMore":${r.n > opts.limit}}`;
  }

  async readFeed(userId: string, since: Positions, limit: number): Promise<FeedPage> {
    // One snapshot for all of its statements: a page read across two snapshots could hold a
    // message of one conversation and miss an older one of another committed in between, and
    // the reader's cursor would pass it.
    return this.readFeedTx(userId, since.get(0) ?? 0, limit);
  }
  async readFeeds(reads: readonly FeedRead[]): Promise<FeedPage[]> {
    return reads.map((r) => this.readFeedTx(r.userId, r.since.get(0) ?? 0, r.limit));
  }

  private readFeedPage(userId: string, since: number, limit: number): FeedPage {
    const sources = this.s.feedSources.all({ u: userId, since }) as {
      id: string;
      last_seq: number;
      lo: number;
      hi: number | null;
    }[];
    const want = limit + 1;
    const chunk = Math.max(8, Math.ceil(want / Math.max(1, sources.length)));
    const cursors: FeedCursor[] = sources.map((src) => ({
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
      let bestPos = Number.MAX_SAFE_INTEGER;
      for (const c of cursors) {
        if (c.at === c.rows.length && !c.done) this.fillCursor(c, chunk);
        const row = c.rows[c.at];
        if (row && row.pos < bestPos) {
          best = c;
          bestPos = row.pos;
        }
      }
      if (!best) break;
      out.push(best.rows[best.at++] as MessageDbRow);
    }
    return { messages: out.slice(0, limit).map(toMessage), hasMore: out.length > limit };
  }

  private fillCursor(c: FeedCursor, chunk: number): void {
    const rows = this.s.fromSeq.all(c.conversationId, c.next, chunk) as MessageDbRow[];
    if (rows.length < chunk) c.done = true;
    let n = rows.length;
    while (n > 0 && (rows[n - 1] as MessageDbRow).pos > c.hi) {
      n--;
      c.done = true;
    }
    c.rows = n === rows.length ? rows : rows.slice(0, n);
    c.at = 0;
    if (n > 0) c.next = (rows[n - 1] as MessageDbRow).seq + 1;
  }

  async feedHead(userId: string): Promise<Positions> {
    return inSpaceZero((this.s.feedHead.get({ u: userId }) as number | null) ?? 0);
  }
  async feedHeads(userIds: readonly string[]): Promise<Positions[]> {
    return userIds.map((u) => inSpaceZero((this.s.feedHead.get({ u }) as number | null) ?? 0));
  }
  async setReadSeq(conversationId: string, userId: string, seq: number): Promise<number> {
    this.s.setRead.run(seq, conversationId, conversationId, userId, seq);
    return (this.s.readSeq.get(conversationId, userId) as number | undefined) ?? 0;
  }

  async setDeliveredSeqs(
    entries: readonly { conversationId: string; userId: string; seq: number }[],
  ): Promise<CursorRow[]> {
    return this.writeTx(() => {
      const out: CursorRow[] = [];
      for (const e of entries) {
        const r = this.s.setDelivered.get(
          e.seq,
          e.conversationId,
          e.conversationId,
          e.userId,
          e.seq,
          e.conversationId,
        ) as
          { conversation_id: string; user_id: string; delivered_seq: number; read_seq: number } | undefined;
        if (r) {
          out.push({
            conversationId: r.conversation_id,
            userId: r.user_id,
            deliveredSeq: Math.max(r.delivered_seq, r.read_seq),
            readSeq: r.read_seq,
          });
        }
      }
      return out;
    })();
  }
  async setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void> {
    this.writeTx(() => {
      for (const e of entries) this.s.setLastActive.run(e.at, e.userId);
    })();
  }
  async presenceAudiences(userIds: readonly string[]): Promise<string[][]> {
    const out: string[][] = [];
    for (const userId of userIds) {
      const ids = this.s.audience.all({ u: userId }) as string[];
      const blocked = new Set(await this.blockedAmong(userId, ids));
      out.push(ids.filter((id) => id !== userId && !blocked.has(id)));
    }
    return out;
  }
  async acceptedContacts(userIds: readonly string[]): Promise<string[][]> {
    return userIds.map((id) => this.s.acceptedContacts.all(id) as string[]);
  }
  async visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]> {
    const blocked = new Set(await this.blockedAmong(viewerId, userIds));
    return userIds.filter(
      (id) =>
        id === viewerId ||
        (!blocked.has(id) &&
          (this.s.contactState.get(viewerId, id) === 'accepted' ||
            this.s.sharesConversation.get(viewerId, id) === 1)),
    );
  }
  async listContacts(userId: string): Promise<ContactRow[]> {
    return (
      this.s.listContacts.all(userId) as { contact_id: string; state: ContactRow['state']; since: number }[]
    ).map((r) => ({ userId: r.contact_id, state: r.state, since: r.since }));
  }
  async getContactState(
    userId: string,
    otherId: string,
  ): Promise<'accepted' | 'incoming' | 'outgoing' | 'none'> {
    return (this.s.contactState.get(userId, otherId) as ContactRow['state'] | undefined) ?? 'none';
  }
  async setContactPair(
    a: string,
    stateA: ContactRow['state'] | 'none',
    b: string,
    stateB: ContactRow['state'] | 'none',
    now: number,
  ): Promise<void> {
    this.writeTx(() => {
      for (const [u, o, st] of [
        [a, b, stateA],
        [b, a, stateB],
      ] as const) {
        if (st === 'none') this.s.deleteContact.run(u, o);
        else this.s.upsertContact.run(u, o, st, now);
      }
    })();
  }
  async recordDecline(userId: string, requesterId: string, at: number): Promise<void> {
    this.s.recordDecline.run(userId, requesterId, at);
  }
  async declinedAt(userId: string, requesterId: string): Promise<number | null> {
    return (this.s.declinedAt.get(userId, requesterId) as number | undefined) ?? null;
  }
  async block(blockerId: string, blockedId: string, now: number): Promise<void> {
    this.forgetDirect(blockerId, blockedId);
    this.writeTx(() => {
      this.s.insertBlock.run(blockerId, blockedId, now);
      this.s.setDirectBlocked.run(1, directKey(blockerId, blockedId));
    })();
  }
  async unblock(blockerId: string, blockedId: string): Promise<void> {
    this.forgetDirect(blockerId, blockedId);
    this.writeTx(() => {
      this.s.deleteBlock.run(blockerId, blockedId);
      const still = this.s.blockedEither.get({ a: blockerId, b: blockedId }) === 1;
      this.s.setDirectBlocked.run(still ? 1 : 0, directKey(blockerId, blockedId));
    })();
  }
  /** Drop the cached append state of two users' direct conversation (its blocked flag changes). */
  private forgetDirect(a: string, b: string): void {
    const row = this.s.directByKey.get(directKey(a, b)) as ConversationDbRow | undefined;
    if (row) this.convs.delete(row.id);
  }
  async isBlockedEither(a: string, b: string): Promise<boolean> {
    return this.s.blockedEither.get({ a, b }) === 1;
  }
  async blockedAmong(userId: string, others: readonly string[]): Promise<string[]> {
    return others.filter((o) => this.s.blockedEither.get({ a: userId, b: o }) === 1);
  }
  async listBlocked(userId: string): Promise<string[]> {
    return this.s.listBlocked.all(userId) as string[];
  }

  async setMute(conversationId: string, userId: string, until: number | null): Promise<boolean> {
    return this.s.setMute.run(until, conversationId, userId).changes > 0;
  }
  async setPushPreview(userId: string, preview: boolean): Promise<void> {
    this.s.setPushPreview.run(preview ? 1 : 0, userId);
  }
  async savePushSubscription(sub: PushSubscriptionRow): Promise<PushSubscriptionRow> {
    return this.writeTx(() => {
      const old = this.s.subByAddress.get(sub.kind, sub.address) as PushSubscriptionDbRow | undefined;
      if (old && old.user_id === sub.userId) {
        this.s.moveSub.run(sub.deviceId, sub.p256dh, sub.auth, old.id);
        return toPushSubscription(this.s.subById.get(old.id) as PushSubscriptionDbRow);
      }
      if (old) {
        // Another account's endpoint (the browser was logged in as someone else): start over,
        // so none of their queued notifications reach this user.
        this.s.deleteSubJobs.run(old.id);
        this.s.deleteSub.run(old.id);
      }
      this.s.insertSub.run(
        sub.id,
        sub.userId,
        sub.deviceId,
        sub.kind,
        sub.address,
        sub.p256dh,
        sub.auth,
        sub.createdAt,
      );
      return sub;
    })();
  }
  async listPushSubscriptions(userId: string): Promise<PushSubscriptionRow[]> {
    return (this.s.subsOfUser.all(userId) as PushSubscriptionDbRow[]).map(toPushSubscription);
  }
  async deletePushSubscription(id: string, userId?: string): Promise<boolean> {
    return this.writeTx(() => {
      const r = this.s.subById.get(id) as PushSubscriptionDbRow | undefined;
      if (!r || (userId !== undefined && r.user_id !== userId)) return false;
      this.s.deleteSubJobs.run(id);
      this.s.deleteSub.run(id);
      return true;
    })();
  }
  async pushTargets(
    entries: readonly { conversationId: string; userIds: readonly string[] }[],
    now: number,
  ): Promise<PushTargetRow[]> {
    const out: PushTargetRow[] = [];
    for (const e of entries) {
      for (const u of e.userIds) {
        const rows = this.s.pushTargets.all(e.conversationId, u, now) as (PushSubscriptionDbRow & {
          read_seq: number;
          push_preview: number;
        })[];
        for (const r of rows) {
          out.push({
            conversationId: e.conversationId,
            userId: u,
            readSeq: r.read_seq,
            pushPreview: r.push_preview !== 0,
            subscription: toPushSubscription(r),
          });
        }
      }
    }
    return out;
  }
  async enqueuePushJobs(jobs: readonly NewPushJob[]): Promise<number> {
    return this.writeTx(() => {
      let n = 0;
      for (const j of jobs) {
        n += this.s.insertJob.run(j.messageId, j.subscriptionId, j.payload, j.createdAt, j.createdAt).changes;
      }
      return n;
    })();
  }
  async claimPushJobs(now: number, limit: number, leaseMs: number): Promise<PushJobRow[]> {
    return this.writeTx(() => {
      const ids = this.s.dueJobs.all(now, limit) as number[];
      const out: PushJobRow[] = [];
      for (const id of ids) {
        this.s.leaseJob.run(now + leaseMs, id);
        const r = this.s.jobWithSub.get(id) as
          | (PushSubscriptionDbRow & {
              j_id: number;
              message_id: string;
              payload: string;
              attempts: number;
              j_created_at: number;
            })
          | undefined;
        if (!r) continue;
        out.push({
          id: r.j_id,
          messageId: r.message_id,
          payload: r.payload,
          attempts: r.attempts,
          createdAt: r.j_created_at,
          subscription: toPushSubscription(r),
        });
      }
      return out;
    })();
  }
  async finishPushJob(id: number, state: 'sent' | 'dropped'): Promise<void> {
    this.s.finishJob.run(state, id);
  }
  async retryPushJob(id: number, at: number, untried = false): Promise<void> {
    (untried ? this.s.handBackJob : this.s.retryJob).run(at, id);
  }
  async purgePushJobs(before: number, keep?: number): Promise<number> {
    return this.writeTx(() => {
      let n = this.s.purgeJobs.run(before).changes;
      if (keep !== undefined) n += this.s.purgeJobsBeyond.run(Math.max(0, keep - 1)).changes;
      return n;
    })();
  }
  async serverValue(key: string, value: string): Promise<string> {
    this.s.insertValue.run(key, value);
    return this.s.value.get(key) as string;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
