/**
 * The store: the source of truth for users, devices, conversations and messages. One
 * interface, one conformance suite (test/unit/store/conformance.test.ts), several adapters:
 * `sqlite/` (embedded, the default) and `postgres/` (cluster mode).
 *
 * Adapters throw `ParleyError` for domain failures (`username_taken`, `not_found`, ...) and
 * `ParleyError('unavailable')` when the engine cannot be reached, so callers map every
 * failure through the one error registry.
 */
import type { ErrorCode, Message, PrivacySettings, PushKind } from '@parley/protocol';

export interface UserRow {
  id: string;
  username: string;
  displayName: string;
  passwordHash: string;
  createdAt: number;
  /** Last time any device was active (persisted in batches); null when never seen. */
  lastActiveAt?: number | null;
  /** Push notifications show message text (the `pushPreview` setting). Default true. */
  pushPreview?: boolean;
}

/** One feed read: messages with pos > `since`, at most `limit`. */
export interface FeedRead {
  userId: string;
  since: number;
  limit: number;
}

/** A page of a user's feed, ascending by pos. */
export interface FeedPage {
  messages: Message[];
  hasMore: boolean;
}

/** A device with its user, as a token lookup answers. */
export interface DeviceWithUser {
  device: DeviceRow;
  user: UserRow;
}

export interface DeviceRow {
  id: string;
  userId: string;
  name: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface ConversationRow {
  id: string;
  kind: 'direct' | 'group';
  name: string;
  createdAt: number;
  lastActivityAt: number;
  lastSeq: number;
}

export interface MemberRow {
  conversationId: string;
  userId: string;
  role: 'admin' | 'member';
  joinedAt: number;
  readSeq: number;
  deliveredSeq: number;
  /** A message request waiting for this member's answer (see `ConversationSummaryRow.request`). */
  request: boolean;
}

/** A conversation as one member sees it in their list. */
export interface ConversationSummaryRow extends ConversationRow {
  role: 'admin' | 'member';
  readSeq: number;
  memberCount: number;
  lastMessage: Message | null;
  /** For a direct conversation: the other member's user id (mine for a note-to-self). */
  peerId: string | null;
  /** For a direct conversation: the other member's cursors (null otherwise). */
  peerDeliveredSeq: number | null;
  peerReadSeq: number | null;
  /** My mute: push notifications resume at this time (FOREVER: until unmuted); null when never muted. */
  mutedUntil: number | null;
  /**
   * A message request waiting for my answer: a direct conversation a non-contact opened with
   * me. Lists and summaries leave a request out until it has a message I have not deleted.
   */
  request: boolean;
}

/**
 * A former member's hold on a group they left or were removed from: it stays in their list,
 * read-only, with its history up to `leftSeq`, until they delete it or are added again.
 */
export interface LeftRow {
  conversationId: string;
  userId: string;
  leftAt: number;
  /** The group's last seq when they left: history up to it stays readable, nothing after. */
  leftSeq: number;
  /** Who removed them; null when they left themselves. */
  leftBy: string | null;
  /** The group's name when they left (later renames are not theirs to see). */
  name: string;
}

/** `mutedUntil` of a mute with no end ("until I unmute"). */
export const FOREVER = Number.MAX_SAFE_INTEGER;

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

/** One subscription to notify for a message: its member is not muted there. */
export interface PushTargetRow {
  conversationId: string;
  userId: string;
  /** The member's read cursor (unread count = message seq - readSeq). */
  readSeq: number;
  pushPreview: boolean;
  subscription: PushSubscriptionRow;
}

/** A notification to send: one per (message, subscription), never two. */
export interface NewPushJob {
  messageId: string;
  subscriptionId: string;
  /** The JSON payload (a PushPayload). */
  payload: string;
  createdAt: number;
}

/** A claimed job, with its subscription. */
export interface PushJobRow {
  id: number;
  messageId: string;
  payload: string;
  /** Sending attempts including this one. */
  attempts: number;
  createdAt: number;
  subscription: PushSubscriptionRow;
}

/** One row of a user's contact list. */
export interface ContactRow {
  userId: string;
  state: 'accepted' | 'incoming' | 'outgoing';
  since: number;
}

/** A member's cursor after a receipt update. */
export interface CursorRow {
  conversationId: string;
  userId: string;
  deliveredSeq: number;
  readSeq: number;
}

/** One message to store; the store assigns seq, pos and validates membership and idempotency. */
export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  clientId: string;
  text: string;
  createdAt: number;
}

export type AppendResult =
  | {
      ok: true;
      message: Message;
      /** True when (senderId, clientId) was already stored: `message` is the original. */
      duplicate: boolean;
      /** User ids of every member when the message was stored (sender included). */
      recipients: readonly string[];
      /**
       * For each recipient (same order), the position of the previous entry in their feed
       * (0 for none). Chat servers use it to deliver each device's feed in order without
       * gaps even when a bus delivers out of order, and to notice lost events.
       */
      prev: number[];
    }
  | { ok: false; code: ErrorCode };

/** What an adapter can do; tests and callers branch on capabilities, never on adapter kind. */
export interface StoreCapabilities {
  /** Several processes may write concurrently (PostgreSQL); false for the embedded store. */
  readonly multiWriter: boolean;
  /**
   * `appendMessages` calls made one after another are committed in that order, whatever
   * overlaps (one writer working through a queue), so a caller may keep several in flight.
   */
  readonly orderedAppends: boolean;
}

export interface Store {
  readonly capabilities: StoreCapabilities;

  // ---- users and devices ----
  /** Throws `username_taken` when the (lower-cased) username exists. */
  createUser(user: UserRow): Promise<void>;
  getUserById(id: string): Promise<UserRow | null>;
  getUserByUsername(username: string): Promise<UserRow | null>;
  getUsersByIds(ids: readonly string[]): Promise<UserRow[]>;
  setDisplayName(userId: string, displayName: string): Promise<void>;
  /** The user's privacy settings (`DEFAULT_PRIVACY` until changed; also for an unknown user). */
  getPrivacy(userId: string): Promise<PrivacySettings>;
  /** Change some of the user's privacy settings (the others stay); returns them all. */
  setPrivacy(userId: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings>;
  /** `getPrivacy` of several users at once, in the order given. */
  getPrivacies(userIds: readonly string[]): Promise<PrivacySettings[]>;
  createDevice(device: DeviceRow, tokenHash: string): Promise<void>;
  /**
   * For each token hash, in the order given: the live (not revoked) device holding it, with
   * its user, or null. Many at once: a reconnect storm's upgrades of one event-loop turn
   * cost one store call (see `TurnBatch`).
   */
  getDevicesByTokenHashes(tokenHashes: readonly string[]): Promise<(DeviceWithUser | null)[]>;
  listDevices(userId: string): Promise<DeviceRow[]>;
  /**
   * Revoke one of the user's devices, and remove its push subscriptions (and their unsent
   * jobs) in the same transaction; false when it is not theirs or already revoked.
   */
  revokeDevice(userId: string, deviceId: string): Promise<boolean>;
  touchDevices(ids: readonly string[], at: number): Promise<void>;

  // ---- conversations ----
  /**
   * Get or create the direct conversation of two users (one per pair, whoever asks). A new one
   * records `userA` as its creator and, with `request`, is a message request for `userB`.
   */
  getOrCreateDirect(
    id: string,
    userA: string,
    userB: string,
    now: number,
    request?: boolean,
  ): Promise<ConversationRow>;
  /** The direct conversation of two users, if there is one. */
  findDirect(userA: string, userB: string): Promise<ConversationRow | null>;
  /** When `userId` created conversations (direct and groups) at or after `since`: the first `limit`, oldest first. */
  createdSince(userId: string, since: number, limit: number): Promise<number[]>;
  /** Make a member's pending message request a plain membership; false when it was none. */
  acceptRequest(conversationId: string, userId: string): Promise<boolean>;
  /**
   * Take a pending message request out of the member's list until a newer message arrives
   * (it stays a request); false when it was none.
   */
  dismissRequest(conversationId: string, userId: string): Promise<boolean>;
  createGroup(
    id: string,
    name: string,
    creatorId: string,
    memberIds: readonly string[],
    now: number,
  ): Promise<ConversationRow>;
  getConversation(id: string): Promise<ConversationRow | null>;
  renameGroup(id: string, name: string): Promise<void>;
  getMember(conversationId: string, userId: string): Promise<MemberRow | null>;
  listMembers(conversationId: string): Promise<MemberRow[]>;
  /**
   * Add members (idempotent for existing ones); an added former member's `LeftRow` goes. Throws `group_full` when the result would
   * exceed `maxMembers`, atomically (nobody is added then).
   */
  addMembers(
    conversationId: string,
    userIds: readonly string[],
    maxMembers: number,
    now: number,
  ): Promise<void>;
  /**
   * Remove a member. From a group, the membership becomes a `LeftRow` (replacing an older
   * one) in the same transaction: `leave.by` is who removed them (null: they left), at
   * `leave.at` (default now).
   */
  removeMember(
    conversationId: string,
    userId: string,
    leave?: { by?: string | null; at?: number },
  ): Promise<void>;
  /** The user's former membership of a group, unless deleted from their list or re-added. */
  getLeft(conversationId: string, userId: string): Promise<LeftRow | null>;
  /** Every former membership of the user still in their list, latest leave first. */
  listLeft(userId: string): Promise<LeftRow[]>;
  /** Delete a former membership from the user's list; false when there was none. */
  deleteLeft(conversationId: string, userId: string): Promise<boolean>;
  setRole(conversationId: string, userId: string, role: 'admin' | 'member'): Promise<void>;
  /** My conversations, latest activity first. */
  listConversations(userId: string, limit: number): Promise<ConversationSummaryRow[]>;
  getConversationSummary(conversationId: string, userId: string): Promise<ConversationSummaryRow | null>;

  // ---- messages ----
  /**
   * Store messages in one transaction (group commit): for each, check membership
   * (`not_found` when the sender is not a member) and idempotency on (senderId, clientId),
   * assign the next per-conversation seq (gap-free) and a feed position, append it to every
   * member's feed, and move the sender's read cursor to it. Resolves only after commit.
   */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]>;
  // (A direct conversation between users who blocked each other refuses appends with `blocked`.)
  /** History by seq: `before` (exclusive) pages backwards, `after` (exclusive) forwards. Ascending order. */
  history(
    conversationId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<{ messages: Message[]; hasMore: boolean }>;
  /**
   * `history` as a member sees it, already serialized: the JSON text of
   * `{ messages, hasMore }` (a HistoryPage), or null when `userId` is not a member. The hot
   * read path: the engine writes the JSON, so no row becomes an object on the way out.
   */
  historyJson(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<string | null>;
  /** Messages in the user's feed with pos > since, ascending, at most `limit`. */
  readFeed(userId: string, since: number, limit: number): Promise<FeedPage>;
  /**
   * `readFeed` of several (user, since, limit) at once, answered in the order given, each page
   * from one snapshot (the catch-ups of a reconnect storm, batched by `TurnBatch`).
   */
  readFeeds(reads: readonly FeedRead[]): Promise<FeedPage[]>;
  /** Highest pos in the user's feed (0 when empty). */
  feedHead(userId: string): Promise<number>;
  /** `feedHead` of several users in one call, in the same order (the connections of one turn). */
  feedHeads(userIds: readonly string[]): Promise<number[]>;
  /** Move a member's read cursor forward (never back, never past lastSeq); returns the new cursor. */
  setReadSeq(conversationId: string, userId: string, seq: number): Promise<number>;

  /**
   * Move delivered cursors forward (max with the current one, never past lastSeq), for
   * members only (others are ignored). Returns the cursors that moved.
   */
  setDeliveredSeqs(
    entries: readonly { conversationId: string; userId: string; seq: number }[],
  ): Promise<CursorRow[]>;

  // ---- presence, contacts and blocks ----
  /** Persist last-active times (batched by the caller: at most one write per user per minute). */
  setLastActive(entries: readonly { userId: string; at: number }[]): Promise<void>;
  /**
   * For each user (in the order given): who is told of their presence changes, i.e. their
   * accepted contacts and 1:1 partners minus blocks either way, sorted. One call for the
   * users of a whole turn: a reconnect storm brings thousands at once.
   */
  presenceAudiences(userIds: readonly string[]): Promise<string[][]>;
  /** For each user (in the order given): their accepted contacts, sorted. */
  acceptedContacts(userIds: readonly string[]): Promise<string[][]>;
  /**
   * Users who show `userId`'s name: members of a conversation they are in, and anyone with
   * a contact row (accepted or requested, either way) with them; `userId` included, sorted.
   */
  relatedUsers(userId: string): Promise<string[]>;
  /** Which of `userIds` the viewer may see the presence of: contacts or anyone sharing a conversation, minus blocks either way. */
  visibleTo(viewerId: string, userIds: readonly string[]): Promise<string[]>;
  listContacts(userId: string): Promise<ContactRow[]>;
  /** My side of the relation with another user ('none' when there is no row). */
  getContactState(userId: string, otherId: string): Promise<'accepted' | 'incoming' | 'outgoing' | 'none'>;
  /** Set both sides of a relation at once ('none' removes a side). */
  setContactPair(
    a: string,
    stateA: 'accepted' | 'incoming' | 'outgoing' | 'none',
    b: string,
    stateB: 'accepted' | 'incoming' | 'outgoing' | 'none',
    now: number,
  ): Promise<void>;
  /** Record that `userId` declined (or dropped) `requesterId`'s contact request at `at`. */
  recordDecline(userId: string, requesterId: string, at: number): Promise<void>;
  /** When `userId` last declined `requesterId`'s contact request; null when never. */
  declinedAt(userId: string, requesterId: string): Promise<number | null>;
  /** Block (idempotent); also marks their direct conversation as blocked. */
  block(blockerId: string, blockedId: string, now: number): Promise<void>;
  unblock(blockerId: string, blockedId: string): Promise<void>;
  /** True when either user blocked the other. */
  isBlockedEither(a: string, b: string): Promise<boolean>;
  /** Of `others`, those who blocked `userId` or whom `userId` blocked. */
  blockedAmong(userId: string, others: readonly string[]): Promise<string[]>;
  listBlocked(userId: string): Promise<string[]>;

  // ---- push notifications ----
  /** Set (or clear, with null) my mute of a conversation; false when I am not a member. */
  setMute(conversationId: string, userId: string, until: number | null): Promise<boolean>;
  setPushPreview(userId: string, preview: boolean): Promise<void>;
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
   * The subscriptions to notify for messages: for each entry, the subscriptions of those of
   * `userIds` who are still members of the conversation and have not muted it at `now`.
   */
  pushTargets(
    entries: readonly { conversationId: string; userIds: readonly string[] }[],
    now: number,
  ): Promise<PushTargetRow[]>;
  /**
   * Queue jobs, due at once, in one transaction. A (messageId, subscriptionId) already queued
   * (or sent) is skipped: no device gets two notifications for one message. Returns how many were new.
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
   * finished ones; returns how many.
   */
  purgePushJobs(before: number, keep?: number): Promise<number>;
  /**
   * A server-wide value (VAPID keys): the stored one, or `value` stored now if there is none.
   * Servers starting at once all get the first one stored.
   */
  serverValue(key: string, value: string): Promise<string>;

  // ---- lifecycle ----
  /** Throws when the engine does not answer (used by /readyz). */
  ping(): Promise<void>;
  /**
   * Set once the store failed for good (a damaged file, a store thread that died): every call
   * then throws `storage_failed`, and /healthz and /readyz answer 503. Adapters that recover by
   * themselves (PostgreSQL reconnects) never set it.
   */
  readonly failure?: Error;
  close(): Promise<void>;
}
