/**
 * Messages: the append path (seq and feed positions), history, every user's feed, and the
 * read and delivered cursors that receipts move.
 */
import type {
  Attachment,
  ErrorCode,
  LinkPreview,
  Message,
  MessageKind,
  MessageListPage,
} from '@parley/protocol';
import type { Positions } from '../common/feed-cursor.js';

/** One message to store; the store assigns seq, pos and validates membership and idempotency. */
export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  clientId: string;
  text: string;
  createdAt: number;
  /** Absent: 'text' (content). An event acts on the content message at `target`. */
  kind?: MessageKind;
  target?: number;
  /** Content: the seq it answers. */
  replyTo?: number;
  forwarded?: boolean;
  /**
   * Content in groups: the member ids its text mentions. An edit's replace those of its target
   * (absent: it mentions no one now).
   */
  mentions?: readonly string[];
  /** Content: its files, from the uploads the sender claimed for it (ports/uploads.ts). */
  attachments?: readonly Attachment[];
  /** Content: the preview of its text's first URL, from the server's previewer cache. */
  preview?: LinkPreview;
}

/** A page of a cross-conversation list (mentions, saved), newest first. */
export interface ListRead {
  /** A `next` from the previous page. */
  before?: string;
  limit: number;
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
       * For each recipient (same order), the position of the previous entry in their feed in
       * the same position space as `message.pos` (0 for none). Chat servers use it to deliver
       * each device's feed in order without gaps even when a bus delivers out of order, and
       * to notice lost events.
       */
      prev: number[];
    }
  | { ok: false; code: ErrorCode };

/** One feed read: messages past `since` in their position space, at most `limit`. */
export interface FeedRead {
  userId: string;
  since: Positions;
  limit: number;
}

/**
 * A page of a user's feed: ascending by pos within a position space, any order across
 * spaces, and each space's messages are a prefix of what is left of that space.
 */
export interface FeedPage {
  messages: Message[];
  hasMore: boolean;
}

/** A member's cursor after a receipt update. */
export interface CursorRow {
  conversationId: string;
  userId: string;
  deliveredSeq: number;
  readSeq: number;
}

export interface MessageStore {
  /**
   * Store a batch (group commit), resolving only after commit. The rules every adapter
   * enforces, in this order, one answer per message in the batch's order:
   * 1. the batch pre-pass (`planAppends` in common/append-batch.ts): lone surrogates repaired;
   *    text the engine cannot hold refused alone (`invalid_field`); a resend of a (senderId,
   *    clientId) inside the batch answers like the original;
   * 2. idempotency: a (senderId, clientId) already stored answers the original with
   *    `duplicate: true` when conversation and text match, else `client_id_conflict` (a
   *    sharded store sees this only within the conversation's database);
   * 3. membership: a sender who is not a member answers `not_found`, like an unknown
   *    conversation;
   * 4. blocks: a direct conversation between users who blocked each other answers `blocked`;
   * 5. actions (an event, or a reply): the rules of common/message-rules.ts (`refusal`) on
   *    the target as folded so far; a stored event is folded into its target in the same
   *    transaction (text, editedAt, deleted, reactions, pins, the author's hidden and saved
   *    marks), and a private event (hide, save, unsave) has its author as its only recipient;
   * 6. the next per-conversation seq (gap-free: a failed batch rolls its seqs back) and a
   *    feed position that keeps each recipient's feed in commit order within its space
   *    (`prev`), with the sender's read cursor moved to the message.
   * A single-database store commits the batch in one transaction; a sharded one commits one
   * transaction per database and answers `unavailable` for the messages of a database it
   * cannot reach (the others are stored).
   */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult[]>;
  /**
   * History by seq: `before` (exclusive) pages backwards, `after` (exclusive) forwards.
   * Ascending order. Content messages only, in their folded state (reactions, reply snippet);
   * seqs skip the events in between.
   */
  history(
    conversationId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<{ messages: Message[]; hasMore: boolean }>;
  /**
   * `history` as a member sees it (without what they hid, with what they saved), already serialized: the JSON text of
   * `{ messages, hasMore }` (a HistoryPage), or null when `userId` is not a member. The hot
   * read path: the engine writes the JSON, so no row becomes an object on the way out.
   */
  historyJson(
    conversationId: string,
    userId: string,
    opts: { before?: number; after?: number; limit: number },
  ): Promise<string | null>;
  /** Messages in the user's feed past `since` (per position space), at most `limit`. */
  readFeed(userId: string, since: Positions, limit: number): Promise<FeedPage>;
  /**
   * `readFeed` of several (user, since, limit) at once, answered in the order given, each page
   * from one snapshot (the catch-ups of a reconnect storm, batched by `TurnBatch`).
   */
  readFeeds(reads: readonly FeedRead[]): Promise<FeedPage[]>;
  /** Highest pos of each position space in the user's feed (only spaces with one). */
  feedHead(userId: string): Promise<Positions>;
  /** `feedHead` of several users in one call, in the same order (the connections of one turn). */
  feedHeads(userIds: readonly string[]): Promise<Positions[]>;
  /** Move a member's read cursor forward (never back, never past lastSeq); returns the new cursor. */
  setReadSeq(conversationId: string, userId: string, seq: number): Promise<number>;
  /**
   * Move delivered cursors forward (max with the current one, never past lastSeq), for
   * members only (others are ignored). Returns the cursors that moved.
   */
  setDeliveredSeqs(
    entries: readonly { conversationId: string; userId: string; seq: number }[],
  ): Promise<CursorRow[]>;
  /**
   * Content message `seq` as `userId` sees it now (folded), or null when it is not content,
   * they are not a member, it is before they joined, or they hid it.
   */
  messageAt(conversationId: string, seq: number, userId: string): Promise<Message | null>;
  /** Pinned messages of a conversation (folded, as `userId` sees them), most recently pinned first. */
  pinned(conversationId: string, userId: string): Promise<Message[]>;
  /** Messages mentioning the user, newest first, hidden ones left out. */
  mentionsOf(userId: string, read: ListRead): Promise<MessageListPage>;
  /** Messages the user saved, most recently saved first. */
  savedOf(userId: string, read: ListRead): Promise<MessageListPage>;
}
