/**
 * Schema migrations for the PostgreSQL store, applied in order at startup (see
 * `migrate()` in postgres-store.ts); `schema_migrations` records which versions ran.
 * Append new migrations; never edit a released one.
 *
 * Layout notes (the design's KV message store, seeds 002/004):
 * - `messages` is keyed by (conversation_id, seq) and partitioned by a hash of
 *   conversation_id, so a conversation's history is one index range in one partition and
 *   partitions can later move to separate tablespaces or shards.
 * - PostgreSQL requires every unique index of a partitioned table to include the partition
 *   key. Idempotency is unique on (sender_id, client_id), which does not contain
 *   conversation_id, so it lives in its own small table `message_keys` pointing at the
 *   message. The same goes for `pos`: its uniqueness is guaranteed by how it is assigned
 *   (one sequence, see appendMessages) and indexed through `feed`.
 * - `feed` is the per-user change feed (the design's per-member queue, seeds 000/003): one
 *   row per (member, message) holding the message's key, so catch-up reads exactly what a
 *   user missed with one index range scan plus primary-key lookups.
 * - Ids and usernames use the "C" collation: byte order, like the embedded store, and cheaper
 *   comparisons than a locale collation.
 */

export interface PostgresMigrationOptions {
  /** Hash partitions of `messages`; only read when the table is first created. */
  messagePartitions: number;
}

export interface PostgresMigration {
  version: number;
  name: string;
  sql(opts: PostgresMigrationOptions): string;
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
];
