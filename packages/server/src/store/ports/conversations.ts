/**
 * Conversations: direct and group conversations, their members and roles, message requests,
 * a former member's hold on a group they left, and each member's list and mutes.
 */
import type { Message } from '@parley/protocol';

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
  /** Content messages by others after readSeq, not deleted for everyone (at most UNREAD_COUNT_CAP). */
  unread: number;
  /** For a direct conversation: the other member's user id (mine for a note-to-self). */
  peerId: string | null;
  /** For a direct conversation: the other member's cursors (null otherwise). */
  peerDeliveredSeq: number | null;
  peerReadSeq: number | null;
  /** My mute: push notifications resume at this time (FOREVER: until unmuted); null when never muted. */
  mutedUntil: number | null;
  /** My mute silences mentions of me too (false when never muted or unmuted). */
  mutedMentions: boolean;
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

export interface ConversationStore {
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
  /**
   * Set (or clear, with null) my mute of a conversation; with `mentions`, mentions of me are
   * muted too (clearing the mute clears that). False when I am not a member.
   */
  setMute(conversationId: string, userId: string, until: number | null, mentions?: boolean): Promise<boolean>;
}
