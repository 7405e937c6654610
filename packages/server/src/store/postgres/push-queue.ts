/**
 * PostgreSQL push: Push subscriptions and the push job queue, placed by the subscription's user.
 */
import type { NewPushJob, PushJobRow, PushQueueStore, PushSubscriptionRow, PushTargetRow } from '../store.js';
import { toPushSubscription } from '../common/rows.js';
import type { PushSubscriptionDbRow } from '../common/rows.js';
import type { PgDatabase, PgShards } from './postgres-driver.js';

/** First key of the two-key lock taken per push endpoint while it is registered. */
const PUSH_LOCK = 0x70610002;

export class PgPushQueue implements PushQueueStore {
  constructor(private readonly shards: PgShards) {}

  private get db(): PgDatabase {
    return this.shards.catalog;
  }

  savePushSubscription(sub: PushSubscriptionRow): Promise<PushSubscriptionRow> {
    return this.db.transaction(async (c) => {
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
    const rows = await this.db.rows<PushSubscriptionDbRow>(
      'SELECT * FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id',
      [userId],
    );
    return rows.map(toPushSubscription);
  }
  deletePushSubscription(id: string, userId?: string): Promise<boolean> {
    return this.db.transaction(async (c) => {
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
    const rows = await this.db.rows<
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
    const rows = await this.db.rows(
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
    const rows = await this.db.rows<
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
    await this.db.rows("UPDATE push_jobs SET state = $1, payload = '' WHERE id = $2 AND state = 'pending'", [
      state,
      id,
    ]);
  }
  async retryPushJob(id: number, at: number, untried = false): Promise<void> {
    await this.db.rows(
      untried
        ? "UPDATE push_jobs SET next_attempt_at = $1, attempts = GREATEST(0, attempts - 1) WHERE id = $2 AND state = 'pending'"
        : "UPDATE push_jobs SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending'",
      [at, id],
    );
  }
  async purgePushJobs(before: number, keep?: number): Promise<number> {
    const rows = await this.db.rows(
      "DELETE FROM push_jobs WHERE state <> 'pending' AND created_at < $1 RETURNING id",
      [before],
    );
    if (keep === undefined) return rows.length;
    const beyond = await this.db.rows(
      `DELETE FROM push_jobs WHERE state <> 'pending' AND id < (
         SELECT id FROM push_jobs WHERE state <> 'pending' ORDER BY id DESC LIMIT 1 OFFSET $1)
       RETURNING id`,
      [Math.max(0, keep - 1)],
    );
    return rows.length + beyond.length;
  }
}
