/**
 * Push notifications: when a message is stored, every member but the sender gets one
 * notification on each registered push endpoint whose device is not in active use, unless
 * the conversation is muted and the message does not mention them, or the mute covers
 * mentions too (push-policy.ts). The queue lives in the store, so pending notifications survive a restart, and
 * every server of a cluster works on it: claims are atomic, and one (message, subscription)
 * is queued once, so no device gets two notifications for one message.
 *
 * The send path never waits for any of this: `stored()` only buffers; the buffer is turned
 * into jobs after the acks and the fan-out, a batch at a time.
 */
import { ParleyError } from '@parley/protocol';
import type {
  Message,
  PushKind,
  PushPayload,
  PushSubscriptionInfo,
  RegisterPushRequest,
} from '@parley/protocol';
import type { AuthContext } from '../auth/auth-service.js';
import { randomId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PresenceTracker } from '../presence/presence.js';
import type {
  AccountStore,
  ConversationStore,
  NewPushJob,
  PushJobRow,
  PushQueueStore,
  PushSubscriptionRow,
} from '../store/store.js';
import { APNS_TOKEN } from './apns/apns-provider.js';
import { FCM_TOKEN } from './fcm/fcm-provider.js';
import { buildPayload, previewText, toPushMessage } from './payload.js';
import { shouldPush } from './push-policy.js';
import type { PushProvider, PushResult } from './provider.js';
import { checkWebPushSubscription } from './webpush/webpush-provider.js';

export interface PushServiceOptions {
  /**
   * A device whose app is in the foreground is in active use, and gets no push, until it has
   * not been used for this long, ms. Default 60000.
   */
  idleMs?: number;
  /** Look for due jobs this often when nothing was queued here, ms. Default 1000. */
  pollMs?: number;
  /** Notifications in flight at once. Default 16. */
  concurrency?: number;
  /**
   * Notifications in flight at once to one destination (a Web Push origin), so that a slow
   * or hanging push service holds only these workers. Default 8.
   */
  concurrencyPerOrigin?: number;
  /** Attempts before a notification is dropped. Default 10. */
  maxAttempts?: number;
  /** Drop notifications older than this; also the TTL given to push services, seconds. Default 86400. */
  ttlSec?: number;
  /** First retry delay when the service gave no Retry-After, ms. Default 1000. */
  retryBaseMs?: number;
  /** Longest retry delay, Retry-After included, ms. Default 3600000. */
  retryMaxMs?: number;
  /** Jobs claimed per store round trip. Default 100. */
  claimBatch?: number;
  /** A claimed job whose claimer died is claimed again after this long, ms. Default 60000. */
  leaseMs?: number;
  /** Finished jobs are kept this long (so a message is never queued twice), ms. Default 86400000. */
  keepFinishedMs?: number;
  /** Finished jobs kept at most, however young; past it the oldest are purged. Default 100000. */
  keepFinishedJobs?: number;
  /** Accept http: Web Push endpoints and private addresses (tests). Default false. */
  webPushAllowHttp?: boolean;
  /** Push subscriptions kept per device; registering one more removes the oldest. Default 2. */
  maxSubscriptionsPerDevice?: number;
  /** Push subscriptions kept per user, all devices together; past it the oldest go. Default 20. */
  maxSubscriptionsPerUser?: number;
}

interface Stored {
  message: Message;
  recipients: readonly string[];
}

const toInfo = (s: PushSubscriptionRow): PushSubscriptionInfo => ({
  id: s.id,
  kind: s.kind,
  deviceId: s.deviceId,
  createdAt: s.createdAt,
});

/** Most jobs per enqueue transaction. */
const ENQUEUE_CHUNK = 1000;
/** How often finished jobs are purged, ms. */
const PURGE_EVERY_MS = 10 * 60_000;
/** A job handed back because its destination was busy is due again after this long, ms. */
const BUSY_RETRY_MS = 1000;

export class PushService {
  private readonly providers = new Map<PushKind, PushProvider>();
  private readonly idleMs: number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly perOrigin: number;
  private readonly maxAttempts: number;
  private readonly ttlMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly claimBatch: number;
  private readonly leaseMs: number;
  private readonly keepFinishedMs: number;
  private readonly keepFinishedJobs: number;
  private readonly allowHttp: boolean;
  private readonly maxPerDevice: number;
  private readonly maxPerUser: number;

  private buffer: Stored[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private closing = false;
  private kicked = false;
  private wake: (() => void) | undefined;
  private lastPurge = Date.now();
  /** Sends in flight, and how many of them go to each destination. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly perDestination = new Map<string, number>();

  constructor(
    private readonly queue: PushQueueStore,
    private readonly accounts: AccountStore,
    private readonly conversations: ConversationStore,
    private readonly presence: PresenceTracker,
    providers: readonly PushProvider[],
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** The VAPID public key browsers subscribe with. */
    readonly vapidPublicKey: string,
    opts: PushServiceOptions = {},
  ) {
    for (const p of providers) this.providers.set(p.kind, p);
    this.idleMs = opts.idleMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 1000;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.perOrigin = Math.max(1, opts.concurrencyPerOrigin ?? 8);
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 10);
    this.ttlMs = (opts.ttlSec ?? 86_400) * 1000;
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.retryMaxMs = opts.retryMaxMs ?? 3_600_000;
    this.claimBatch = opts.claimBatch ?? 100;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.keepFinishedMs = opts.keepFinishedMs ?? 86_400_000;
    this.keepFinishedJobs = Math.max(1, opts.keepFinishedJobs ?? 100_000);
    this.allowHttp = opts.webPushAllowHttp ?? false;
    this.maxPerDevice = Math.max(1, opts.maxSubscriptionsPerDevice ?? 2);
    this.maxPerUser = Math.max(1, opts.maxSubscriptionsPerUser ?? 20);
  }

  // ---- subscriptions (HTTP routes) ----

  /** Register a push endpoint of the calling device. */
  async register(ctx: AuthContext, req: RegisterPushRequest): Promise<PushSubscriptionInfo> {
    const row: PushSubscriptionRow = {
      id: randomId('ps_'),
      userId: ctx.userId,
      deviceId: ctx.deviceId,
      kind: req.kind,
      address: '',
      p256dh: null,
      auth: null,
      createdAt: Date.now(),
    };
    switch (req.kind) {
      case 'webpush': {
        const why = checkWebPushSubscription(req.endpoint, req.keys, this.allowHttp);
        if (why !== null) throw new ParleyError('invalid_field', why);
        row.address = req.endpoint;
        row.p256dh = req.keys.p256dh;
        row.auth = req.keys.auth;
        break;
      }
      case 'fcm':
        if (!FCM_TOKEN.test(req.token)) throw new ParleyError('invalid_field', 'token is not an FCM token');
        row.address = req.token;
        break;
      case 'apns':
        if (!APNS_TOKEN.test(req.token)) throw new ParleyError('invalid_field', 'token must be hex');
        row.address = req.token.toLowerCase();
        break;
      default: {
        const never: never = req;
        throw new ParleyError('invalid_field', `unknown kind ${String((never as { kind: unknown }).kind)}`);
      }
    }
    if (!this.providers.has(req.kind)) throw new ParleyError('push_not_configured');
    const saved = await this.queue.savePushSubscription(row);
    await this.keepNewest(ctx.userId, ctx.deviceId, saved.id);
    return toInfo(saved);
  }

  /**
   * Past the caps, remove the oldest subscriptions (never the one just registered): every
   * message fans out to each of them, so without a cap one account could make the server
   * POST anywhere as often as it likes. A browser or app has one endpoint at a time; the
   * second per device covers a change of endpoint.
   */
  private async keepNewest(userId: string, deviceId: string, keep: string): Promise<void> {
    // Oldest first.
    const all = await this.queue.listPushSubscriptions(userId);
    const extra = (list: PushSubscriptionRow[], max: number) =>
      list.filter((s) => s.id !== keep).slice(0, Math.max(0, list.length - max));
    const gone = new Set(
      extra(
        all.filter((s) => s.deviceId === deviceId),
        this.maxPerDevice,
      ).map((s) => s.id),
    );
    for (const s of extra(
      all.filter((s) => !gone.has(s.id)),
      this.maxPerUser,
    ))
      gone.add(s.id);
    for (const id of gone) await this.queue.deletePushSubscription(id, userId);
    if (gone.size > 0) this.log.debug({ userId, removed: gone.size }, 'push: oldest subscriptions replaced');
  }

  async list(userId: string): Promise<PushSubscriptionInfo[]> {
    return (await this.queue.listPushSubscriptions(userId)).map(toInfo);
  }

  async unregister(userId: string, id: string): Promise<void> {
    if (!(await this.queue.deletePushSubscription(id, userId)))
      throw new ParleyError('not_found', 'No such subscription');
  }

  // ---- enqueue ----

  /**
   * A new message was stored and fanned out. Returns at once: who is offline and what to send
   * is worked out later, for every message stored meanwhile at once.
   */
  stored(message: Message, recipients: readonly string[]): void {
    if (this.closing || recipients.length < 2) return;
    this.buffer.push({ message, recipients });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the acks and the fan-out of this turn (they are written synchronously before).
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flushing.then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return;
    try {
      const n = await this.enqueue(batch);
      if (n > 0) this.kick();
    } catch (err) {
      this.log.warn({ err, messages: batch.length }, 'push: could not queue notifications');
      this.metrics.pushDropped.inc({ reason: 'enqueue_failed' }, batch.length);
    }
  }

  private async enqueue(batch: readonly Stored[]): Promise<number> {
    const now = Date.now();
    // Who may be notified, per conversation (one store query for the whole batch).
    const wanted = new Map<string, Set<string>>();
    for (const b of batch) {
      let users = wanted.get(b.message.conversationId);
      if (!users) wanted.set(b.message.conversationId, (users = new Set()));
      for (const u of b.recipients) if (u !== b.message.senderId) users.add(u);
    }
    const entries = [...wanted]
      .filter(([, u]) => u.size > 0)
      .map(([c, u]) => ({ conversationId: c, userIds: [...u] }));
    if (entries.length === 0) return 0;
    const targets = await this.queue.pushTargets(entries, now);
    if (targets.length === 0) return 0;
    const devices = await this.presence.deviceActivity([
      ...new Set(targets.map((t) => t.subscription.deviceId)),
    ]);

    const byConversation = new Map<string, typeof targets>();
    for (const t of targets) {
      const list = byConversation.get(t.conversationId);
      if (list) list.push(t);
      else byConversation.set(t.conversationId, [t]);
    }
    const senders = new Map(
      (await this.accounts.getUsersByIds([...new Set(batch.map((b) => b.message.senderId))])).map((u) => [
        u.id,
        u.displayName,
      ]),
    );
    const conversations = new Map<string, { kind: 'direct' | 'group'; name: string }>();
    for (const id of byConversation.keys()) {
      const c = await this.conversations.getConversation(id);
      if (c) conversations.set(id, { kind: c.kind, name: c.name });
    }

    const jobs: NewPushJob[] = [];
    const kinds: PushKind[] = [];
    for (const b of batch) {
      const m = b.message;
      const conv = conversations.get(m.conversationId);
      const list = byConversation.get(m.conversationId);
      if (!conv || !list) continue;
      const recipients = new Set(b.recipients);
      const mentioned = new Set(m.mentions);
      const senderName = senders.get(m.senderId) ?? 'Someone';
      const payloads = new Map<string, string>();
      for (const t of list) {
        if (t.userId === m.senderId || !recipients.has(t.userId)) continue;
        const candidate = {
          muted: t.muted,
          mutedMentions: t.mutedMentions,
          mentioned: mentioned.has(t.userId),
          device: devices.get(t.subscription.deviceId),
        };
        if (!shouldPush(candidate, now, this.idleMs)) continue;
        let payload = payloads.get(t.userId);
        if (payload === undefined) {
          payload = JSON.stringify(
            buildPayload({
              conversationId: m.conversationId,
              conversationName: conv.kind === 'group' ? conv.name : senderName,
              kind: conv.kind,
              messageId: m.id,
              seq: m.seq,
              senderId: m.senderId,
              senderName,
              text: previewText(m),
              createdAt: m.createdAt,
              readSeq: t.readSeq,
              showText: t.pushPreview,
            }),
          );
          payloads.set(t.userId, payload);
        }
        jobs.push({
          messageId: m.id,
          subscriptionId: t.subscription.id,
          userId: t.subscription.userId,
          payload,
          createdAt: now,
        });
        kinds.push(t.subscription.kind);
      }
    }
    let added = 0;
    for (let i = 0; i < jobs.length; i += ENQUEUE_CHUNK) {
      added += await this.queue.enqueuePushJobs(jobs.slice(i, i + ENQUEUE_CHUNK));
    }
    for (const k of kinds) this.metrics.pushEnqueued.inc({ kind: k });
    return added;
  }

  // ---- the worker ----

  /** Start working on the queue (every server does; claims keep them apart). */
  start(): void {
    this.loop ??= this.run();
  }

  /** Jobs were queued: look now instead of at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  /**
   * Claims jobs whenever workers are free and starts each at once, so one slow send never
   * holds back the others. A job whose destination already has `concurrencyPerOrigin` sends
   * in flight is handed back, due again shortly, without counting as an attempt.
   */
  private async run(): Promise<void> {
    while (!this.closing) {
      this.kicked = false;
      // Also under load: a flood of notifications is when the finished ones pile up.
      if (Date.now() - this.lastPurge > PURGE_EVERY_MS) await this.purge();
      const free = this.concurrency - this.inFlight.size;
      if (free <= 0) {
        // Woken when a send ends.
        await this.sleep(this.pollMs);
        continue;
      }
      let jobs: PushJobRow[] = [];
      try {
        jobs = await this.queue.claimPushJobs(Date.now(), Math.min(this.claimBatch, free), this.leaseMs);
      } catch (err) {
        this.log.warn({ err }, 'push: could not claim jobs');
      }
      let started = 0;
      for (const job of jobs) {
        const destination = this.providers.get(job.subscription.kind)?.destination?.(job.subscription);
        const busy =
          destination !== undefined && (this.perDestination.get(destination) ?? 0) >= this.perOrigin;
        if (this.closing || busy) {
          // Not started: due again at once when stopping (for whichever server runs next), else soon.
          const at = Date.now() + (this.closing ? 0 : BUSY_RETRY_MS);
          await this.queue.retryPushJob(job.id, at, true).catch(() => undefined);
          continue;
        }
        this.begin(job, destination);
        started++;
      }
      if (started > 0) continue;
      // Nothing due, or only jobs for busy destinations: wait for a kick, a send to end or the poll.
      if (!this.kicked && !this.closing) await this.sleep(this.pollMs);
    }
  }

  private begin(job: PushJobRow, destination: string | undefined): void {
    if (destination !== undefined)
      this.perDestination.set(destination, (this.perDestination.get(destination) ?? 0) + 1);
    const sending = this.deliver(job)
      .catch((err: unknown) => this.log.warn({ err, job: job.id }, 'push: job failed'))
      .finally(() => {
        this.inFlight.delete(sending);
        if (destination !== undefined) {
          const n = (this.perDestination.get(destination) ?? 1) - 1;
          if (n > 0) this.perDestination.set(destination, n);
          else this.perDestination.delete(destination);
        }
        this.wake?.();
      });
    this.inFlight.add(sending);
  }

  private async deliver(job: PushJobRow): Promise<void> {
    const kind = job.subscription.kind;
    const provider = this.providers.get(kind);
    const age = Date.now() - job.createdAt;
    if (!provider) return this.drop(job, 'no_provider');
    if (age >= this.ttlMs) return this.drop(job, 'expired');
    let payload: PushPayload;
    try {
      payload = JSON.parse(job.payload) as PushPayload;
    } catch {
      return this.drop(job, 'rejected');
    }
    const message = toPushMessage(payload, Math.max(1, Math.floor((this.ttlMs - age) / 1000)));
    let result: PushResult;
    try {
      result = await provider.send(job.subscription, message);
    } catch (err) {
      result = { outcome: 'retry', reason: err instanceof Error ? err.message : String(err) };
    }
    switch (result.outcome) {
      case 'sent':
        this.metrics.pushSent.inc({ kind });
        // Before anything else: from here on this job is never sent again.
        await this.finish(job, 'sent');
        return;
      case 'gone':
        this.metrics.pushFailed.inc({ kind });
        this.metrics.pushDropped.inc({ reason: 'gone' });
        this.log.info(
          { subscription: job.subscription.id, reason: result.reason },
          'push: subscription gone',
        );
        await this.queue.deletePushSubscription(job.subscription.id);
        return;
      case 'rejected':
        this.metrics.pushFailed.inc({ kind });
        this.log.warn({ job: job.id, reason: result.reason }, 'push: notification rejected');
        return this.drop(job, 'rejected');
      case 'retry': {
        this.metrics.pushFailed.inc({ kind });
        if (job.attempts >= this.maxAttempts) return this.drop(job, 'max_attempts');
        this.metrics.pushRetried.inc({ kind });
        const delay = Math.min(this.retryMaxMs, result.retryAfterMs ?? this.backoff(job.attempts));
        this.log.debug({ job: job.id, reason: result.reason, delay }, 'push: retrying');
        await this.queue.retryPushJob(job.id, Date.now() + delay);
        return;
      }
      default: {
        const never: never = result;
        return never;
      }
    }
  }

  /** Full-jitter exponential backoff (the same rule as the SDK's reconnects). */
  private backoff(attempt: number): number {
    const cap = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(30, attempt - 1));
    return Math.floor(Math.random() * cap);
  }

  private async drop(job: PushJobRow, reason: string): Promise<void> {
    this.metrics.pushDropped.inc({ reason });
    await this.finish(job, 'dropped');
  }

  /** Record the end of a job; a few tries, since failing to means sending it again later. */
  private async finish(job: PushJobRow, state: 'sent' | 'dropped'): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.queue.finishPushJob(job.id, state);
        return;
      } catch (err) {
        if (i >= 4) {
          this.log.error({ err, job: job.id }, 'push: could not record a finished job');
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
  }

  private async purge(): Promise<void> {
    this.lastPurge = Date.now();
    try {
      await this.queue.purgePushJobs(Date.now() - this.keepFinishedMs, this.keepFinishedJobs);
    } catch (err) {
      this.log.warn({ err }, 'push: could not purge finished jobs');
    }
  }

  /** Queue what was stored, stop claiming, let sends in flight finish. */
  async close(): Promise<void> {
    if (this.flushScheduled || this.buffer.length > 0) {
      await new Promise((r) => setImmediate(r));
    }
    await this.flushing;
    this.closing = true;
    this.wake?.();
    await this.loop;
    await Promise.all(this.inFlight);
    for (const p of this.providers.values()) await p.close?.();
  }
}
