/**
 * The push queue: registered push endpoints, who to notify for a message, and the jobs that
 * carry each notification (claimed with a lease, so several servers can share the queue).
 */
import type { PushKind } from '@parley/protocol';

/** A registered push endpoint; it belongs to one device of one user. */
export interface PushSubscriptionRow {
  id: string;
  userId: string;
  deviceId: string;
  kind: PushKind;
  /** Web Push: the endpoint URL; FCM: the registration token; APNs: the device token. Unique per kind. */
  address: string;
  /** Web Push only: the browser's P-256 public key (base64url). */
  p256dh: string | null;
  /** Web Push only: the 16-byte auth secret (base64url). */
  auth: string | null;
  createdAt: number;
}

/** One subscription that may be notified for a message (the push policy decides). */
export interface PushTargetRow {
  conversationId: string;
  userId: string;
  /** The member muted the conversation (at `now`): only mentions may reach them. */
  muted: boolean;
  /** The member muted the conversation (at `now`) with mentions too: nothing may reach them. */
  mutedMentions: boolean;
  /** The member's read cursor. */
  readSeq: number;
  /**
   * The member's unread messages in the conversation up to the entry's `upToSeq`, counted as
   * their conversation list counts them.
   */
  unread: number;
  pushPreview: boolean;
  subscription: PushSubscriptionRow;
}

/** Who may be notified in one conversation, for its messages up to `upToSeq`. */
export interface PushTargetQuery {
  conversationId: string;
  userIds: readonly string[];
  upToSeq: number;
}

/** A notification to send: one per (message, subscription), never two. */
export interface NewPushJob {
  messageId: string;
  subscriptionId: string;
  /** The subscription's user: the job is stored with their subscriptions. */
  userId: string;
  /** The JSON payload (a PushPayload). */
  payload: string;
  createdAt: number;
}

/** A claimed job, with its subscription. */
export interface PushJobRow {
  /** Opaque: only for finishPushJob and retryPushJob. */
  id: number;
  messageId: string;
  payload: string;
  /** Sending attempts including this one. */
  attempts: number;
  createdAt: number;
  subscription: PushSubscriptionRow;
}

export interface PushQueueStore {
  /**
   * Register a push endpoint for a device. The same (kind, address) again keeps its id and
   * moves to the new user and device (a browser endpoint or app token belongs to one device).
   */
  savePushSubscription(sub: PushSubscriptionRow): Promise<PushSubscriptionRow>;
  listPushSubscriptions(userId: string): Promise<PushSubscriptionRow[]>;
  /**
   * Remove a subscription and its unsent jobs; with `userId`, only if it is theirs. False
   * when there was none. (Revoking a device removes its subscriptions too.)
   */
  deletePushSubscription(id: string, userId?: string): Promise<boolean>;
  /**
   * The subscriptions that may be notified for messages: for each entry, the subscriptions of
   * those of `userIds` who are still members of the conversation (not a message request),
   * each saying whether its member muted the conversation at `now`, and mentions with it, and
   * how many messages are unread up to `upToSeq` (a later message does not count).
   */
  pushTargets(entries: readonly PushTargetQuery[], now: number): Promise<PushTargetRow[]>;
  /**
   * Queue jobs, due at once, in one transaction per database (over several databases some may
   * be queued when others fail: queueing them again is safe). A (messageId, subscriptionId)
   * already queued (or sent) is skipped: no device gets two notifications for one message.
   * Returns how many were new.
   */
  enqueuePushJobs(jobs: readonly NewPushJob[]): Promise<number>;
  /**
   * Atomically take up to `limit` due jobs (next attempt <= now), oldest first: each one's
   * next attempt moves to `now + leaseMs` and its attempts go up by one, so no other process
   * claims it meanwhile; a claimer that dies leaves it to be claimed again when the lease ends.
   */
  claimPushJobs(now: number, limit: number, leaseMs: number): Promise<PushJobRow[]>;
  /**
   * A job is over: sent or dropped. It is kept until purged, so that it is never queued
   * again, but without its payload.
   */
  finishPushJob(id: number, state: 'sent' | 'dropped'): Promise<void>;
  /**
   * Try a claimed job again at `at`. `untried`: it was handed back without being sent (its
   * destination was busy, the server is stopping), so its claim does not count as an attempt.
   */
  retryPushJob(id: number, at: number, untried?: boolean): Promise<void>;
  /**
   * Forget finished jobs created before `before` and, with `keep`, all but the newest `keep`
   * finished ones (of each database, in a store over several); returns how many.
   */
  /**
   * The pending jobs of a message deleted for everyone: dropped, with their payload (which may
   * quote the text) blanked, and none queued for it afterwards (until `purgePushJobs` passes
   * the delete's time). Returns how many were dropped.
   */
  dropMessagePushJobs(messageId: string): Promise<number>;
  purgePushJobs(before: number, keep?: number): Promise<number>;
}
