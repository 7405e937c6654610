/**
 * Schema migrations for the embedded store, applied in order at open; `PRAGMA user_version`
 * records how many have run. Append new migrations; never edit a released one.
 *
 * Layout notes: messages are keyed by (conversation_id, seq), with `pos` (the rowid) as the
 * feed position; `feed` is the per-user change feed (the design's per-member queue, seeds
 * 000/003): one row per (member, message), so catch-up reads exactly what a user missed.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
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
];
