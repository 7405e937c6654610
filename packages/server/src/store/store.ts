/**
 * The store: the source of truth for users, devices, conversations and messages, as one port
 * per aggregate (ports/):
 * - `accounts`: users, devices and their tokens, each user's own settings;
 * - `conversations`: conversations, members and roles, message requests, left groups, mutes;
 * - `messages`: appends, history, feeds, read and delivered cursors;
 * - `search`: full-text search over the messages a user can see;
 * - `social`: contacts, declines, blocks and the presence audiences derived from them;
 * - `push`: push subscriptions, targets and the push job queue;
 * - `values`: server-wide values;
 * - `uploads`: uploaded files, their attachments and the messages they are attached to.
 * Services receive only the ports they use; `Store` holds them all, with the lifecycle. Every
 * adapter implements every port (`sqlite/`: embedded, the default; `postgres/`: cluster mode)
 * and one conformance suite checks them (test/unit/store/conformance.test.ts).
 *
 * Adapters throw `ParleyError` for domain failures (`username_taken`, `not_found`, ...) and
 * `ParleyError('unavailable')` when the engine cannot be reached, so callers map every
 * failure through the one error registry.
 */
import type { AccountStore } from './ports/accounts.js';
import type { ConversationStore } from './ports/conversations.js';
import type { MessageStore } from './ports/messages.js';
import type { PushQueueStore } from './ports/push-queue.js';
import type { SearchStore } from './ports/search.js';
import type { ServerValueStore } from './ports/server-values.js';
import type { SocialStore } from './ports/social.js';
import type { UploadsStore } from './ports/uploads.js';

export * from './ports/accounts.js';
export * from './ports/conversations.js';
export * from './ports/messages.js';
export * from './ports/push-queue.js';
export * from './ports/search.js';
export * from './ports/server-values.js';
export * from './ports/social.js';
export * from './ports/uploads.js';
export type { Positions } from './common/feed-cursor.js';

/** What an adapter can do; tests and callers branch on capabilities, never on adapter kind. */
export interface StoreCapabilities {
  /** Several processes may write concurrently (PostgreSQL); false for the embedded store. */
  readonly multiWriter: boolean;
  /**
   * `appendMessages` calls made one after another are committed in that order, whatever
   * overlaps (one writer working through a queue), so a caller may keep several in flight.
   */
  readonly orderedAppends: boolean;
  /**
   * How many position spaces feed positions come in (L): a position's space is pos % L, and
   * a user's feed grows in commit order within a space only. 1 for a single ordered feed.
   */
  readonly positionSpaces: number;
}

export interface Store {
  readonly capabilities: StoreCapabilities;
  readonly accounts: AccountStore;
  readonly conversations: ConversationStore;
  readonly messages: MessageStore;
  readonly search: SearchStore;
  readonly social: SocialStore;
  readonly push: PushQueueStore;
  readonly values: ServerValueStore;
  readonly uploads: UploadsStore;

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
