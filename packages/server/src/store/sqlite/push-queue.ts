/** The push queue on the embedded store: push subscriptions, targets and the job queue. */
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
import type { SqliteDriver } from './sqlite-driver.js';

type TargetDbRow = PushSubscriptionDbRow & {
  read_seq: number;
  unread: number;
  push_preview: number;
  muted: number;
  mute_mentions: number;
};

function statements(d: SqliteDriver) {
  return {
    subByAddress: d.prepare<[kind: PushSubscriptionRow['kind'], address: string], PushSubscriptionDbRow>(
      'SELECT * FROM push_subscriptions WHERE kind = ? AND address = ?',
    ),
    subById: d.prepare<[id: string], PushSubscriptionDbRow>('SELECT * FROM push_subscriptions WHERE id = ?'),
    insertSub: d.prepare<
      [
        id: string,
        userId: string,
        deviceId: string,
        kind: PushSubscriptionRow['kind'],
        address: string,
        p256dh: string | null,
        auth: string | null,
        createdAt: number,
      ]
    >(
      `INSERT INTO push_subscriptions (id, user_id, device_id, kind, address, p256dh, auth, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    moveSub: d.prepare<[deviceId: string, p256dh: string | null, auth: string | null, id: string]>(
      'UPDATE push_subscriptions SET device_id = ?, p256dh = ?, auth = ? WHERE id = ?',
    ),
    deleteSub: d.prepare<[id: string]>('DELETE FROM push_subscriptions WHERE id = ?'),
    deleteSubJobs: d.prepare<[subscriptionId: string]>('DELETE FROM push_jobs WHERE subscription_id = ?'),
    subsOfUser: d.prepare<[userId: string], PushSubscriptionDbRow>(
      'SELECT * FROM push_subscriptions WHERE user_id = ? ORDER BY created_at, id',
    ),
    pushTargets: d.prepare<[upTo: number, now: number, c: string, u: string], TargetDbRow>(
      `SELECT m.read_seq, ${unreadCountSql('m', '?')} AS unread, u.push_preview,
              (m.muted_until IS NOT NULL AND m.muted_until > ?) AS muted, m.mute_mentions, s.*
       FROM members m JOIN users u ON u.id = m.user_id JOIN push_subscriptions s ON s.user_id = m.user_id
       WHERE m.conversation_id = ? AND m.user_id = ? AND m.request_seq IS NULL
       ORDER BY s.created_at, s.id`,
    ),
    insertJob: d.prepare<
      [
        messageId: string,
        subscriptionId: string,
        payload: string,
        nextAttemptAt: number,
        createdAt: number,
        sameMessageId: string,
      ]
    >(
      `INSERT INTO push_jobs (message_id, subscription_id, payload, next_attempt_at, created_at)
       SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM push_dropped WHERE message_id = ?)
       ON CONFLICT DO NOTHING`,
    ),
    dueJobs: d.pluck<[now: number, limit: number], number>(
      `SELECT j.id FROM push_jobs j WHERE j.state = 'pending' AND j.next_attempt_at <= ?
       ORDER BY j.next_attempt_at, j.id LIMIT ?`,
    ),
    leaseJob: d.prepare<[until: number, id: number]>(
      'UPDATE push_jobs SET next_attempt_at = ?, attempts = attempts + 1 WHERE id = ?',
    ),
    jobWithSub: d.prepare<[id: number], PushJobDbRow>(
      `SELECT j.id AS j_id, j.message_id, j.payload, j.attempts, j.created_at AS j_created_at, s.*
       FROM push_jobs j JOIN push_subscriptions s ON s.id = j.subscription_id WHERE j.id = ?`,
    ),
    // A finished job is kept only so that it is never queued again: its payload (which may
    // quote the message) goes.
    dropMessageJobs: d.prepare<[messageId: string]>(
      "UPDATE push_jobs SET state = 'dropped', payload = '' WHERE message_id = ? AND state = 'pending'",
    ),
    dropMessage: d.prepare<[messageId: string, at: number]>(
      'INSERT INTO push_dropped (message_id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    purgeDropped: d.prepare<[before: number]>('DELETE FROM push_dropped WHERE created_at < ?'),
    finishJob: d.prepare<[state: 'sent' | 'dropped', id: number]>(
      "UPDATE push_jobs SET state = ?, payload = '' WHERE id = ? AND state = 'pending'",
    ),
    retryJob: d.prepare<[at: number, id: number]>(
      "UPDATE push_jobs SET next_attempt_at = ? WHERE id = ? AND state = 'pending'",
    ),
    handBackJob: d.prepare<[at: number, id: number]>(
      "UPDATE push_jobs SET next_attempt_at = ?, attempts = MAX(0, attempts - 1) WHERE id = ? AND state = 'pending'",
    ),
    purgeJobs: d.prepare<[before: number]>(
      "DELETE FROM push_jobs WHERE state <> 'pending' AND created_at < ?",
    ),
    purgeJobsBeyond: d.prepare<[offset: number]>(
      `DELETE FROM push_jobs WHERE state <> 'pending' AND id < (
         SELECT id FROM push_jobs WHERE state <> 'pending' ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    ),
  };
}

export class SqlitePushQueue implements PushQueueStore {
  private readonly s: ReturnType<typeof statements>;

  constructor(private readonly d: SqliteDriver) {
    this.s = statements(d);
  }

  async savePushSubscription(sub: PushSubscriptionRow): Promise<PushSubscriptionRow> {
    return this.d.writeTx(() => {
      const old = this.s.subByAddress.get(sub.kind, sub.address);
      if (old && old.user_id === sub.userId) {
        this.s.moveSub.run(sub.deviceId, sub.p256dh, sub.auth, old.id);
        const moved = this.s.subById.get(old.id);
        return moved ? toPushSubscription(moved) : sub;
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
    return this.s.subsOfUser.all(userId).map(toPushSubscription);
  }
  async deletePushSubscription(id: string, userId?: string): Promise<boolean> {
    return this.d.writeTx(() => {
      const r = this.s.subById.get(id);
      if (!r || (userId !== undefined && r.user_id !== userId)) return false;
      this.s.deleteSubJobs.run(id);
      this.s.deleteSub.run(id);
      return true;
    })();
  }
  async pushTargets(entries: readonly PushTargetQuery[], now: number): Promise<PushTargetRow[]> {
    const out: PushTargetRow[] = [];
    for (const e of entries) {
      for (const u of e.userIds) {
        for (const r of this.s.pushTargets.all(e.upToSeq, now, e.conversationId, u)) {
          out.push({
            conversationId: e.conversationId,
            userId: u,
            muted: r.muted !== 0,
            mutedMentions: r.muted !== 0 && r.mute_mentions !== 0,
            readSeq: r.read_seq,
            unread: r.unread,
            pushPreview: r.push_preview !== 0,
            subscription: toPushSubscription(r),
          });
        }
      }
    }
    return out;
  }
  async enqueuePushJobs(jobs: readonly NewPushJob[]): Promise<number> {
    return this.d.writeTx(() => {
      let n = 0;
      for (const j of jobs) {
        n += this.s.insertJob.run(
          j.messageId,
          j.subscriptionId,
          j.payload,
          j.createdAt,
          j.createdAt,
          j.messageId,
        ).changes;
      }
      return n;
    })();
  }
  async claimPushJobs(now: number, limit: number, leaseMs: number): Promise<PushJobRow[]> {
    return this.d.writeTx(() => {
      const out: PushJobRow[] = [];
      for (const id of this.s.dueJobs.all(now, limit)) {
        this.s.leaseJob.run(now + leaseMs, id);
        const r = this.s.jobWithSub.get(id);
        if (r) out.push(toPushJob(r));
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
    return this.d.writeTx(() => {
      this.s.purgeDropped.run(before);
      let n = this.s.purgeJobs.run(before).changes;
      if (keep !== undefined) n += this.s.purgeJobsBeyond.run(Math.max(0, keep - 1)).changes;
      return n;
    })();
  }
  async dropMessagePushJobs(messageId: string): Promise<number> {
    return this.d.writeTx(() => {
      this.s.dropMessage.run(messageId, Date.now());
      return this.s.dropMessageJobs.run(messageId).changes;
    })();
  }
}
