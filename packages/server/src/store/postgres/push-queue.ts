/**
 * PostgreSQL push: Push subscriptions and the push job queue, placed by the subscription's user
 * (a user's subscriptions and their jobs live on the user's database). The queue is thus spread
 * over the databases: claims take from every one, and the job ids handed out name their database.
 */
import type {
  NewPushJob,
  PushJobRow,
  PushQueueStore,
  PushSubscriptionRow,
  PushTargetQuery,
  PushTargetRow,
} from '../store.js';
import { toPushJob, toPushSubscription, unreadCountSql } from '../common/rows.js';
import type { PushJobDbRow, PushSubscriptionDbRow } from '../common/rows.js';
import type { PgDatabase, PgShards, Queryable } from './postgres-driver.js';

/** First key of the two-key lock taken per push endpoint while it is registered. */
const PUSH_LOCK = 0x70610002;

/**
 * Job ids handed out are `local id × JOB_ID_DATABASES + database index`, unique across the
 * databases. Bounds: at most 1024 databases, and local ids below 2^53 / 1024 (~8.8 × 10^12
 * jobs per database over its lifetime) so that every id stays an exact JS number.
 */
const JOB_ID_DATABASES = 1024;

type ClaimedDbRow = PushJobDbRow & { due: number };

export class PgPushQueue implements PushQueueStore {
  constructor(private readonly shards: PgShards) {
    if (shards.databases.length > JOB_ID_DATABASES)
      throw new Error(`push job ids name at most ${JOB_ID_DATABASES} databases`);
  }

  async savePushSubscription(sub: PushSubscriptionRow): Promise<PushSubscriptionRow> {
    const home = this.shards.of(sub.userId);
    if (this.shards.single) return saveOn(home, sub);
    // The endpoint may be registered to a user of another database: it is looked for on
    // every database (a rare path: a registration) and removed there before it is saved
    // here, so that none of that user's notifications reach this one.
    await this.shards.all((db) => (db === home ? Promise.resolve() : dropEndpoint(db, sub)));
    const saved = await saveOn(home, sub);
    await this.settleRace(home, saved);
    return saved;
  }

  /**
   * Two registrations of one endpoint for users of different databases at once take the
   * lock on different databases, and each may miss the other in its first look. Each looks
   * again after its own row is committed, so at least one of them sees the other; the row
   * with the greater (created_at, id) stays and the other goes, whoever does it, as if the
   * two registrations had come one after the other. A row found while ours is already gone
   * is a later registration's, which removed ours: it stays.
   */
  private async settleRace(home: PgDatabase, saved: PushSubscriptionRow): Promise<void> {
    const found = await this.shards.all(async (db) =>
      db === home
        ? []
        : (
            await db.rows<{ id: string; created_at: number }>(
              'SELECT id, created_at FROM push_subscriptions WHERE kind = $1 AND address = $2',
              [saved.kind, saved.address],
            )
          ).map((r) => ({ db, id: r.id, createdAt: r.created_at })),
    );
    const others = found.flat();
    if (others.length === 0) return;
    const [mine] = await home.rows<{ id: string; created_at: number }>(
      'SELECT id, created_at FROM push_subscriptions WHERE id = $1 AND kind = $2 AND address = $3',
      [saved.id, saved.kind, saved.address],
    );
    if (!mine) return;
    const after = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }) =>
      a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id);
    const me = { createdAt: mine.created_at, id: mine.id };
    let lost = false;
    for (const o of others) {
      if (after(o, me)) lost = true;
      else await dropEndpoint(o.db, saved, o.id);
    }
    if (lost) await dropEndpoint(home, saved, mine.id);
  }

  async listPushSubscriptions(userId: string): Promise<PushSubscriptionRow[]> {
    const rows = await this.shards
      .of(userId)
      .rows<PushSubscriptionDbRow>(
        'SELECT * FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id',
        [userId],
      );
    return rows.map(toPushSubscription);
  }

  async deletePushSubscription(id: string, userId?: string): Promise<boolean> {
    if (userId !== undefined) return deleteOn(this.shards.of(userId), id, userId);
    // Without its user (a provider said the endpoint is gone) the id, random, says nothing
    // of where it is: every database is asked (a rare path).
    const done = await this.shards.all((db) => deleteOn(db, id, null));
    return done.some(Boolean);
  }

  /**
   * Members (on each conversation's database) first, then the subscriptions and preview
   * setting of those found (on each user's database); in the order of `entries` and their
   * `userIds`, each user's subscriptions oldest first.
   */
  async pushTargets(entries: readonly PushTargetQuery[], now: number): Promise<PushTargetRow[]> {
    const pairs: { conv: string; user: string; upTo: number }[] = [];
    for (const e of entries)
      for (const u of e.userIds) pairs.push({ conv: e.conversationId, user: u, upTo: e.upToSeq });
    if (pairs.length === 0) return [];
    type Member = { readSeq: number; unread: number; muted: boolean; mutedMentions: boolean };
    const members: (Member | undefined)[] = pairs.map(() => undefined);
    await Promise.all(
      [...this.shards.group(pairs, (p) => p.conv)].map(async ([db, list]) => {
        const rows = await db.rows<{
          ord: number;
          read_seq: number;
          unread: number;
          muted: boolean;
          mute_mentions: boolean;
        }>(
          `SELECT q.ord, m.read_seq, ${unreadCountSql('m', 'q.up_to')} AS unread,
                  coalesce(m.muted_until > $5, false) AS muted, m.mute_mentions
           FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[]) AS q(c, u, ord, up_to)
           JOIN members m ON m.conversation_id = q.c AND m.user_id = q.u
           WHERE m.request_seq IS NULL`,
          [
            list.map((p) => p.item.conv),
            list.map((p) => p.item.user),
            list.map((p) => p.i),
            list.map((p) => p.item.upTo),
            now,
          ],
        );
        for (const r of rows)
          members[r.ord] = {
            readSeq: r.read_seq,
            unread: r.unread,
            muted: r.muted,
            mutedMentions: r.muted && r.mute_mentions,
          };
      }),
    );
    const users = [...new Set(pairs.filter((_, i) => members[i] !== undefined).map((p) => p.user))];
    const subs = new Map<string, { pushPreview: boolean; subs: PushSubscriptionRow[] }>();
    await Promise.all(
      [...this.shards.group(users, (u) => u)].map(async ([db, list]) => {
        const rows = await db.rows<PushSubscriptionDbRow & { push_preview: boolean }>(
          `SELECT u.push_preview, s.*
           FROM push_subscriptions s JOIN users u ON u.id = s.user_id
           WHERE s.user_id = ANY($1::text[])
           ORDER BY s.user_id, s.created_at, s.id`,
          [list.map((u) => u.item)],
        );
        for (const r of rows) {
          let of = subs.get(r.user_id);
          if (!of) subs.set(r.user_id, (of = { pushPreview: r.push_preview, subs: [] }));
          of.subs.push(toPushSubscription(r));
        }
      }),
    );
    const out: PushTargetRow[] = [];
    pairs.forEach((p, i) => {
      const member = members[i];
      const of = subs.get(p.user);
      if (member === undefined || !of) return;
      for (const subscription of of.subs)
        out.push({
          conversationId: p.conv,
          userId: p.user,
          muted: member.muted,
          mutedMentions: member.mutedMentions,
          readSeq: member.readSeq,
          unread: member.unread,
          pushPreview: of.pushPreview,
          subscription,
        });
    });
    return out;
  }

  /** Each job on its subscription's user's database: one statement (transaction) per database. */
  async enqueuePushJobs(jobs: readonly NewPushJob[]): Promise<number> {
    if (jobs.length === 0) return 0;
    const added = await Promise.all(
      [...this.shards.group(jobs, (j) => j.userId)].map(async ([db, list]) => {
        const rows = await db.rows(
          `INSERT INTO push_jobs (message_id, subscription_id, payload, next_attempt_at, created_at)
           SELECT m, s, p, t, t FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) AS q(m, s, p, t)
           WHERE NOT EXISTS (SELECT 1 FROM push_dropped d WHERE d.message_id = q.m)
           ON CONFLICT (message_id, subscription_id) DO NOTHING
           RETURNING id`,
          [
            list.map((j) => j.item.messageId),
            list.map((j) => j.item.subscriptionId),
            list.map((j) => j.item.payload),
            list.map((j) => j.item.createdAt),
          ],
        );
        return rows.length;
      }),
    );
    return added.reduce((a, b) => a + b, 0);
  }

  /**
   * With several databases: a look (no locks) at each one's oldest due jobs says how many to
   * take from each so that the `limit` oldest overall are taken; then each database claims its
   * share. Jobs another server claimed in between leave a shortfall, filled from the databases
   * whose look showed more than their share.
   */
  async claimPushJobs(now: number, limit: number, leaseMs: number): Promise<PushJobRow[]> {
    if (limit <= 0) return [];
    let claimed: ClaimedDbRow[][];
    if (this.shards.single) {
      claimed = [await claimOn(this.shards.catalog, now, limit, leaseMs)];
    } else {
      const due = (
        await this.shards.all(async (db) =>
          (
            await db.rows<{ t: number; id: number }>(
              `SELECT next_attempt_at AS t, id FROM push_jobs
               WHERE state = 'pending' AND next_attempt_at <= $1
               ORDER BY next_attempt_at, id LIMIT $2`,
              [now, limit],
            )
          ).map((r) => ({ db, t: r.t, id: r.id })),
        )
      ).flat();
      due.sort((a, b) => a.t - b.t || a.id - b.id || a.db.index - b.db.index);
      const share = new Map<PgDatabase, number>();
      for (const d of due.slice(0, limit)) share.set(d.db, (share.get(d.db) ?? 0) + 1);
      claimed = await Promise.all([...share].map(([db, n]) => claimOn(db, now, n, leaseMs)));
      let short = limit - claimed.reduce((a, c) => a + c.length, 0);
      for (const db of this.shards.databases) {
        if (short <= 0) break;
        const seen = due.filter((d) => d.db === db).length;
        if (seen <= (share.get(db) ?? 0)) continue;
        const more = await claimOn(db, now, short, leaseMs);
        claimed.push(more);
        short -= more.length;
      }
    }
    return claimed
      .flat()
      .map((r) => ({ due: r.due, job: toPushJob(r) }))
      .sort((a, b) => a.due - b.due || a.job.id - b.job.id)
      .map((r) => r.job);
  }

  async finishPushJob(id: number, state: 'sent' | 'dropped'): Promise<void> {
    const job = this.jobDatabase(id);
    if (!job) return;
    // Kept only so that it is never queued again: its payload (which may quote the message) goes.
    await job.db.rows("UPDATE push_jobs SET state = $1, payload = '' WHERE id = $2 AND state = 'pending'", [
      state,
      job.local,
    ]);
  }
  async retryPushJob(id: number, at: number, untried = false): Promise<void> {
    const job = this.jobDatabase(id);
    if (!job) return;
    await job.db.rows(
      untried
        ? "UPDATE push_jobs SET next_attempt_at = $1, attempts = GREATEST(0, attempts - 1) WHERE id = $2 AND state = 'pending'"
        : "UPDATE push_jobs SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending'",
      [at, job.local],
    );
  }

  /** On every database: a message's jobs live with their subscriptions' users. */
  async dropMessagePushJobs(messageId: string): Promise<number> {
    const n = await this.shards.all(async (db) => {
      // The mark first: an enqueue after it sees it, one before it has its jobs dropped below.
      await db.rows(
        'INSERT INTO push_dropped (message_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [messageId, Date.now()],
      );
      const rows = await db.rows(
        "UPDATE push_jobs SET state = 'dropped', payload = '' WHERE message_id = $1 AND state = 'pending' RETURNING id",
        [messageId],
      );
      return rows.length;
    });
    return n.reduce((a, b) => a + b, 0);
  }

  /** On every database; `keep` counts each database's finished jobs (see the port). */
  async purgePushJobs(before: number, keep?: number): Promise<number> {
    const purged = await this.shards.all(async (db) => {
      await db.rows('DELETE FROM push_dropped WHERE created_at < $1', [before]);
      const rows = await db.rows(
        "DELETE FROM push_jobs WHERE state <> 'pending' AND created_at < $1 RETURNING id",
        [before],
      );
      if (keep === undefined) return rows.length;
      const beyond = await db.rows(
        `DELETE FROM push_jobs WHERE state <> 'pending' AND id < (
           SELECT id FROM push_jobs WHERE state <> 'pending' ORDER BY id DESC LIMIT 1 OFFSET $1)
         RETURNING id`,
        [Math.max(0, keep - 1)],
      );
      return rows.length + beyond.length;
    });
    return purged.reduce((a, b) => a + b, 0);
  }

  /** The database and local id of a job id handed out by claimPushJobs (null: none of ours). */
  private jobDatabase(id: number): { db: PgDatabase; local: number } | null {
    const db = this.shards.databases[id % JOB_ID_DATABASES];
    return db ? { db, local: Math.floor(id / JOB_ID_DATABASES) } : null;
  }
}

/** Register `sub` on its user's database, under the endpoint's lock (see PgPushQueue). */
function saveOn(db: PgDatabase, sub: PushSubscriptionRow): Promise<PushSubscriptionRow> {
  return db.transaction(async (c) => {
    await lockEndpoint(c, sub);
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

/** Registrations of one endpoint on one database, from any server, one at a time. */
async function lockEndpoint(c: Queryable, sub: { kind: string; address: string }): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PUSH_LOCK, `${sub.kind}:${sub.address}`]);
}

/** Remove the endpoint's subscription on `db` (only the one with `id` if given) and its jobs. */
function dropEndpoint(db: PgDatabase, sub: { kind: string; address: string }, id?: string): Promise<void> {
  return db.transaction(async (c) => {
    await lockEndpoint(c, sub);
    await c.query(
      `WITH gone AS (
         DELETE FROM push_subscriptions
         WHERE kind = $1 AND address = $2 AND ($3::text IS NULL OR id = $3) RETURNING id)
       DELETE FROM push_jobs WHERE subscription_id IN (SELECT id FROM gone)`,
      [sub.kind, sub.address, id ?? null],
    );
  });
}

function deleteOn(db: PgDatabase, id: string, userId: string | null): Promise<boolean> {
  return db.transaction(async (c) => {
    const { rows } = await c.query(
      'DELETE FROM push_subscriptions WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) RETURNING id',
      [id, userId],
    );
    if (rows.length === 0) return false;
    await c.query('DELETE FROM push_jobs WHERE subscription_id = $1', [id]);
    return true;
  });
}

/**
 * Claim up to `limit` due jobs of one database in one statement: the due rows are locked as
 * they are picked (rows another server is claiming right now are skipped, not waited for),
 * then leased and returned with the time they were due and their ids made global.
 */
async function claimOn(db: PgDatabase, now: number, limit: number, leaseMs: number): Promise<ClaimedDbRow[]> {
  const rows = await db.rows<ClaimedDbRow>(
    `WITH picked AS (
       SELECT id, next_attempt_at FROM push_jobs
       WHERE state = 'pending' AND next_attempt_at <= $1
       ORDER BY next_attempt_at, id
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE push_jobs j SET next_attempt_at = $1::int8 + $3::int8, attempts = j.attempts + 1
       FROM picked p WHERE j.id = p.id
       RETURNING j.id, j.message_id, j.subscription_id, j.payload, j.attempts, j.created_at, p.next_attempt_at AS due
     )
     SELECT j.id AS j_id, j.message_id, j.payload, j.attempts, j.created_at AS j_created_at, j.due, s.*
     FROM claimed j JOIN push_subscriptions s ON s.id = j.subscription_id
     ORDER BY j.id`,
    [now, limit, leaseMs],
  );
  for (const r of rows) r.j_id = r.j_id * JOB_ID_DATABASES + db.index;
  return rows;
}
