import type Database from 'better-sqlite3';
import { searchRow } from './search.js';

/**
 * Schema migrations for the embedded store, applied in order at open, each in its own
 * transaction; `PRAGMA user_version` records how many have run. Append new migrations; never
 * edit a released one. A migration is SQL, or a function for steps SQL can't say well.
 *
 * Layout notes: messages are keyed by (conversation_id, seq), with `pos` (the rowid) as the
 * feed position. A user's feed is read from the messages of their conversations (fan-out on
 * read, migration 4): `members.joined_pos` is where it starts in each conversation and
 * `former_members` keeps the part of a conversation a removed member had. Migrations 1-3 kept
 * it as one `feed` row per (member, message) instead, which cost a random-key B-tree insert
 * per member per message (two per 1:1 message, a hundred per group message).
 */
export type SqliteMigration = string | ((db: Database.Database) => void);

/**
 * Migration 4: from `feed` rows to fan-out on read. Each (user, conversation) pair's feed rows
 * form runs of consecutive messages of the conversation, one per stretch of membership; the
 * current member's last run gives `joined_pos`, and every other run becomes a
 * `former_members` row, so that catch-up answers exactly what the feed rows did.
 */
function feedToFanOutOnRead(db: Database.Database): void {
  db.exec(`
    ALTER TABLE conversations ADD COLUMN last_pos INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN joined_pos INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE former_members (
      user_id TEXT NOT NULL,
      conversation_id TEXT NOT NULL,
      joined_pos INTEGER NOT NULL,
      left_pos INTEGER NOT NULL,
      PRIMARY KEY (user_id, conversation_id, left_pos)
    ) WITHOUT ROWID;
    UPDATE conversations SET last_pos = COALESCE(
      (SELECT pos FROM messages WHERE conversation_id = conversations.id ORDER BY seq DESC LIMIT 1), 0);
    -- A member with no feed row in a conversation joined after its last message.
    UPDATE members SET joined_pos = (SELECT last_pos FROM conversations WHERE id = members.conversation_id);
  `);
  const pairs = db
    .prepare(`SELECT DISTINCT f.user_id, m.conversation_id FROM feed f JOIN messages m ON m.pos = f.pos`)
    .all() as { user_id: string; conversation_id: string }[];
  const conversationMessages = db.prepare(
    'SELECT seq, pos FROM messages WHERE conversation_id = ? ORDER BY seq',
  );
  const inFeed = db.prepare('SELECT 1 FROM feed WHERE user_id = ? AND pos = ?').pluck();
  const isMember = db.prepare('SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?').pluck();
  const setJoined = db.prepare('UPDATE members SET joined_pos = ? WHERE conversation_id = ? AND user_id = ?');
  const addFormer = db.prepare(
    'INSERT INTO former_members (user_id, conversation_id, joined_pos, left_pos) VALUES (?, ?, ?, ?)',
  );
  for (const { user_id: userId, conversation_id: conversationId } of pairs) {
    const runs: { joined: number; left: number }[] = [];
    let prevPos = 0;
    let run: { joined: number; left: number } | null = null;
    for (const m of conversationMessages.iterate(conversationId) as IterableIterator<{ pos: number }>) {
      if (inFeed.get(userId, m.pos) === 1) {
        if (run) run.left = m.pos;
        else runs.push((run = { joined: prevPos, left: m.pos }));
      } else run = null;
      prevPos = m.pos;
    }
    const member = isMember.get(conversationId, userId) === 1;
    const last = runs[runs.length - 1];
    // A member whose last run reaches the newest message is in it now; otherwise the run ended
    // when they left (and they joined again later, with no message since).
    if (member && last && last.left === prevPos) {
      setJoined.run(last.joined, conversationId, userId);
      runs.pop();
    }
    for (const r of runs) addFormer.run(userId, conversationId, r.joined, r.left);
  }
  db.exec('DROP TABLE feed');
}

/**
 * Migration 10: full-text search. An FTS5 table keyed by the message's pos (its rowid), over
 * the tokens common/search-text.ts makes and one for the conversation (`searchRow`; the
 * `ascii` tokenizer splits them at the spaces only). Contentless: the text is in `messages`.
 * Tokens come from JavaScript, so the append writes the index (no trigger); the messages
 * stored before are indexed here.
 */
function messageSearch(db: Database.Database): void {
  db.exec(`CREATE VIRTUAL TABLE message_search USING fts5(
    tokens, content='', contentless_delete=1, tokenize='ascii', prefix='2 3')`);
  const insert = db.prepare('INSERT INTO message_search (rowid, tokens) VALUES (?, ?)');
  const next = db.prepare(
    'SELECT pos, conversation_id, text FROM messages WHERE pos > ? ORDER BY pos LIMIT 1000',
  );
  // In slices: the connection cannot write while a statement iterates.
  for (let after = 0; ;) {
    const rows = next.all(after) as { pos: number; conversation_id: string; text: string }[];
    for (const r of rows) insert.run(r.pos, searchRow(r.conversation_id, r.text));
    const last = rows[rows.length - 1];
    if (!last) break;
    after = last.pos;
  }
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE INDEX devices_user ON devices(user_id);
  CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name TEXT NOT NULL,
    direct_key TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE members (
    conversation_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at INTEGER NOT NULL,
    read_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX members_user ON members(user_id, conversation_id);
  CREATE TABLE messages (
    pos INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX messages_conversation_seq ON messages(conversation_id, seq);
  CREATE UNIQUE INDEX messages_idempotency ON messages(sender_id, client_id);
  CREATE TABLE feed (
    user_id TEXT NOT NULL,
    pos INTEGER NOT NULL,
    PRIMARY KEY (user_id, pos)
  ) WITHOUT ROWID;
  `,
  `
  ALTER TABLE users ADD COLUMN last_active_at INTEGER;
  ALTER TABLE members ADD COLUMN delivered_seq INTEGER NOT NULL DEFAULT 0;
  -- Direct conversations: 1 while either member blocks the other (checked on every append).
  ALTER TABLE conversations ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE contacts (
    user_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('accepted', 'incoming', 'outgoing')),
    since INTEGER NOT NULL,
    PRIMARY KEY (user_id, contact_id)
  ) WITHOUT ROWID;
  CREATE TABLE blocks (
    blocker_id TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
  ) WITHOUT ROWID;
  CREATE INDEX blocks_blocked ON blocks(blocked_id, blocker_id);
  `,
  `
  -- Push notifications (issue 7).
  ALTER TABLE users ADD COLUMN push_preview INTEGER NOT NULL DEFAULT 1;
  -- My mute of a conversation: no pushes while muted_until > now (NULL: not muted).
  ALTER TABLE members ADD COLUMN muted_until INTEGER;
  CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('webpush', 'fcm', 'apns')),
    address TEXT NOT NULL,
    p256dh TEXT,
    auth TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, address)
  );
  CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
  CREATE INDEX push_subscriptions_device ON push_subscriptions(device_id);
  -- The durable push queue: one row per (message, subscription), never two.
  CREATE TABLE push_jobs (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (message_id, subscription_id)
  );
  CREATE INDEX push_jobs_due ON push_jobs(next_attempt_at) WHERE state = 'pending';
  CREATE INDEX push_jobs_subscription ON push_jobs(subscription_id);
  CREATE INDEX push_jobs_finished ON push_jobs(created_at) WHERE state <> 'pending';
  CREATE TABLE server_values (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  feedToFanOutOnRead,
  `
  -- Former members of groups: the group stays in their list, read-only up to left_seq,
  -- until they delete it (the row goes) or are added again.
  CREATE TABLE left_members (
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    left_at INTEGER NOT NULL,
    left_seq INTEGER NOT NULL,
    left_by TEXT,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
  ) WITHOUT ROWID;
  `,
  `
  -- Privacy settings (PrivacySettings), defaults as in DEFAULT_PRIVACY.
  ALTER TABLE users ADD COLUMN privacy_last_seen TEXT NOT NULL DEFAULT 'contacts'
    CHECK (privacy_last_seen IN ('everyone', 'contacts', 'nobody'));
  ALTER TABLE users ADD COLUMN privacy_online TEXT NOT NULL DEFAULT 'contacts'
    CHECK (privacy_online IN ('everyone', 'contacts', 'nobody'));
  ALTER TABLE users ADD COLUMN privacy_direct_messages TEXT NOT NULL DEFAULT 'requests'
    CHECK (privacy_direct_messages IN ('everyone', 'requests', 'contacts'));
  ALTER TABLE users ADD COLUMN privacy_group_adds TEXT NOT NULL DEFAULT 'contacts'
    CHECK (privacy_group_adds IN ('everyone', 'contacts'));
  `,
  `
  -- Message requests: non-null on the recipient's membership of a direct conversation a
  -- non-contact opened; it stays out of their list while last_seq <= request_seq (0: until the
  -- first message; a deleted request: until a newer one). NULL: a plain membership.
  ALTER TABLE members ADD COLUMN request_seq INTEGER;
  -- Who created a conversation, for the quota of new conversations per user and hour.
  ALTER TABLE conversations ADD COLUMN created_by TEXT;
  CREATE INDEX conversations_created_by ON conversations(created_by, created_at)
    WHERE created_by IS NOT NULL;
  -- The last time a user declined (or dropped) another's contact request: asking again waits.
  CREATE TABLE contact_declines (
    user_id TEXT NOT NULL,
    requester_id TEXT NOT NULL,
    declined_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, requester_id)
  ) WITHOUT ROWID;
  `,
  `
  -- Message actions: every action is a row of messages with its own seq and pos (kind is not
  -- 'text', target is the content message's seq); visible_to, when set, is the only user whose
  -- feed has the row (private events). The columns after it hold a content message's state
  -- with its events folded in, written in the event's transaction.
  ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
  ALTER TABLE messages ADD COLUMN target INTEGER;
  ALTER TABLE messages ADD COLUMN visible_to TEXT;
  ALTER TABLE messages ADD COLUMN reply_to INTEGER;
  ALTER TABLE messages ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN mentions TEXT;
  ALTER TABLE messages ADD COLUMN edited_at INTEGER;
  ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN pinned_at INTEGER;
  CREATE INDEX messages_target ON messages(conversation_id, target) WHERE target IS NOT NULL;
  CREATE INDEX messages_pinned ON messages(conversation_id, pinned_at) WHERE pinned_at IS NOT NULL;
  CREATE TABLE reactions (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq, emoji, user_id)
  ) WITHOUT ROWID;
  -- A user's own marks on messages: 'hide' (deleted for me) and 'save'.
  CREATE TABLE message_marks (
    user_id TEXT NOT NULL,
    mark TEXT NOT NULL CHECK (mark IN ('hide', 'save')),
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, mark, conversation_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX message_marks_by_time ON message_marks(user_id, mark, created_at);
  CREATE TABLE mentions (
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX mentions_by_time ON mentions(user_id, created_at);
  `,
  // 9: messages deleted for everyone, so that a push job queued after the delete is not queued.
  `
  CREATE TABLE push_dropped (
    message_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  messageSearch,
  `
  -- A mute that silences mentions of the member too (cleared with the mute).
  ALTER TABLE members ADD COLUMN mute_mentions INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Attachments: a content message's files (JSON array of Attachment), and every upload.
  ALTER TABLE messages ADD COLUMN attachments TEXT;
  CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    attachment TEXT,
    conversation_id TEXT,
    client_id TEXT
  ) WITHOUT ROWID;
  CREATE INDEX uploads_by_user ON uploads(user_id, conversation_id, client_id);
  CREATE INDEX uploads_unattached ON uploads(created_at) WHERE conversation_id IS NULL;
  `,
  `
  -- Link previews: the page a content message's first URL links to (JSON LinkPreview).
  ALTER TABLE messages ADD COLUMN preview TEXT;
  `,
];
